//! A caller's readable set: which rows a search may return, so the store
//! filters in the query and pages stay full and tokens exact. Made by the
//! application layer from the caller's grants; a plain value here so every
//! search query (MLflow's in the store, the fleet's in [`crate::fleet`]) can
//! carry it.

/// A row is visible when it is not in `ids_out`, and is in `ids_in`, or
/// else not a member of a family in `families_out` and (a member of one in
/// `families_in`, or `all`). `*` among the families is every family. Ids are
/// experiment ids, registered model names or family names, by the search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visible {
    pub all: bool,
    pub ids_in: Vec<String>,
    pub ids_out: Vec<String>,
    pub families_in: Vec<String>,
    pub families_out: Vec<String>,
}

impl Default for Visible {
    fn default() -> Self {
        Self::everything()
    }
}

impl Visible {
    pub fn everything() -> Self {
        Self { all: true, ids_in: Vec::new(), ids_out: Vec::new(), families_in: Vec::new(), families_out: Vec::new() }
    }
    pub fn is_everything(&self) -> bool {
        self.all && self.ids_out.is_empty() && self.families_out.is_empty()
    }
    /// Whether an id (with its family, if any) is visible.
    pub fn admits(&self, id: &str, family: Option<&str>) -> bool {
        let member = |list: &[String]| family.is_some_and(|f| list.iter().any(|l| l == "*" || l == f));
        !self.ids_out.iter().any(|i| i == id)
            && (self.ids_in.iter().any(|i| i == id)
                || (!member(&self.families_out) && (self.all || member(&self.families_in))))
    }
    /// Whether the set is made of whole families only: no id is named, and
    /// `*` is not among the families. Then a family is either wholly
    /// visible or wholly hidden ([`Visible::family_wholly`]).
    pub fn whole_families(&self) -> bool {
        self.ids_in.is_empty()
            && self.ids_out.is_empty()
            && !self.families_in.iter().chain(&self.families_out).any(|f| f == "*")
    }
    /// For a set of [`Visible::whole_families`]: whether the members of
    /// `family` are visible.
    pub fn family_wholly(&self, family: &str) -> bool {
        !self.families_out.iter().any(|f| f == family) && (self.all || self.families_in.iter().any(|f| f == family))
    }
}

#[cfg(test)]
mod tests {
    use super::Visible;

    #[test]
    fn whole_families_agree_with_admits() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let sets = [
            Visible { all: false, families_in: s(&["a"]), ..Visible::everything() },
            Visible { all: true, families_out: s(&["b"]), ..Visible::everything() },
            Visible::everything(),
        ];
        for v in &sets {
            assert!(v.whole_families());
            for f in ["a", "b", "c"] {
                assert_eq!(v.family_wholly(f), v.admits(&format!("{f}.x=1"), Some(f)), "{f} in {v:?}");
            }
            assert_eq!(v.admits("loose", None), v.all, "a model outside every family: {v:?}");
        }
        let named = Visible { all: false, ids_in: s(&["m"]), ..Visible::everything() };
        assert!(!named.whole_families());
    }
}
