//! A caller's readable set as a PostgreSQL predicate: the rule of
//! [`Visible::admits`] with its lists bound as arrays, so the statement text
//! does not depend on how many names a caller's grants hold.

use super::fleet_sql::Sql;
use crate::Visible;

/// The predicate on registered models (`name` and `rm_id` their columns),
/// `None` when everything is visible.
pub(super) fn models(v: &Visible, name: &str, rm_id: &str, sql: &mut Sql) -> Option<String> {
    if v.is_everything() {
        return None;
    }
    let member = |families: String| {
        format!(
            "EXISTS (SELECT 1 FROM fleet_members m JOIN families f ON f.family_id = m.family_id \
             WHERE m.rm_id = {rm_id} AND ('*' = ANY({families}) OR f.name = ANY({families})))"
        )
    };
    let out = sql.bind(v.ids_out.clone());
    let ids_in = sql.bind(v.ids_in.clone());
    let families_out = member(sql.bind(v.families_out.clone()));
    let all = sql.bind(v.all);
    let families_in = member(sql.bind(v.families_in.clone()));
    Some(format!(
        "NOT ({name} = ANY({out})) AND ({name} = ANY({ids_in}) OR (NOT {families_out} AND ({all} OR {families_in})))"
    ))
}
