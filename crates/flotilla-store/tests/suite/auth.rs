//! The auth area: users, tokens, grants, the credentials generation and the grant log.

use flotilla_core::ErrorKind;
use flotilla_store::Store;
use flotilla_store::auth::{Grant, GrantChange, GrantEvent, NewToken, TokenScope};

use super::kind;

fn token(id: &str, user_id: i64, scope: TokenScope) -> NewToken {
    NewToken { id: id.into(), user_id, name: format!("{id}-name"), scope, secret_hash: [7; 32], expires_at: i64::MAX }
}

pub fn users_lifecycle_and_last_admin(store: &dyn Store) {
    let g0 = store.auth_generations().unwrap().credentials;
    let admin = store.create_first_admin("admin", "$argon2id$a").unwrap().expect("first admin created");
    assert!(admin.is_admin);
    // Only the first call creates one: a second replica's bootstrap is a no-op.
    assert_eq!(store.create_first_admin("other", "$argon2id$b").unwrap(), None);
    let g1 = store.auth_generations().unwrap().credentials;
    assert!(g1 > g0, "a write bumps the generation");

    let bob = store.create_user("bob", "$argon2id$c", false).unwrap();
    assert_eq!(store.get_user("bob").unwrap(), bob);
    assert_eq!(store.get_user_by_id(bob.id).unwrap(), bob);
    // (call, expected kind)
    for (what, got) in [
        ("duplicate", kind(store.create_user("bob", "x", false))),
        ("empty name", kind(store.create_user("", "x", false))),
        ("unknown get", kind(store.get_user("nobody"))),
        ("unknown password", kind(store.set_password_hash("nobody", "x"))),
        ("unknown admin", kind(store.set_admin("nobody", true))),
        ("unknown delete", kind(store.delete_user("nobody"))),
        ("demote last admin", kind(store.set_admin("admin", false))),
        ("delete last admin", kind(store.delete_user("admin"))),
    ] {
        let expected = match what {
            "duplicate" => ErrorKind::AlreadyExists,
            "empty name" => ErrorKind::InvalidParameter,
            "demote last admin" | "delete last admin" => ErrorKind::InvalidState,
            _ => ErrorKind::NotFound,
        };
        assert_eq!(got, expected, "{what}");
    }
    let msg = store.get_user("nobody").unwrap_err().to_string();
    assert_eq!(msg, "User with username=nobody not found");

    store.set_password_hash("bob", "$argon2id$d").unwrap();
    assert_eq!(store.get_user("bob").unwrap().password_hash, "$argon2id$d");
    store.set_admin("bob", true).unwrap();
    store.set_admin("admin", false).unwrap(); // bob is an admin now
    let names: Vec<_> = store.list_users().unwrap().into_iter().map(|u| (u.username, u.is_admin)).collect();
    assert_eq!(names, [("admin".to_string(), false), ("bob".to_string(), true)]);
    let before = store.auth_generations().unwrap().credentials;
    store.delete_user("admin").unwrap();
    assert!(store.auth_generations().unwrap().credentials > before);
    assert_eq!(kind(store.get_user("admin")), ErrorKind::NotFound);
    assert!(store.list_grants(bob.id).unwrap().is_empty());
}

pub fn tokens_are_revocable_and_go_with_their_user(store: &dyn Store) {
    let ana = store.create_user("ana", "h", true).unwrap();
    let bob = store.create_user("bob", "h", false).unwrap();
    let t = store.create_token(&token("aaaa1111", bob.id, TokenScope::Read)).unwrap();
    assert_eq!((t.username.as_str(), t.scope, t.revoked_at), ("bob", TokenScope::Read, None));
    store.create_token(&token("bbbb2222", ana.id, TokenScope::Write)).unwrap();
    let (found, hash) = store.find_token("aaaa1111").unwrap().expect("found");
    assert_eq!((found, hash), (t.clone(), [7; 32]));
    assert_eq!(store.find_token("zzzz").unwrap(), None);
    assert_eq!(store.list_tokens(Some(bob.id)).unwrap().len(), 1);
    assert_eq!(store.list_tokens(None).unwrap().len(), 2);

    // Someone else's token is not found for an owner-restricted revoke.
    assert_eq!(kind(store.revoke_token("bbbb2222", Some(bob.id))), ErrorKind::NotFound);
    let before = store.auth_generations().unwrap().credentials;
    store.revoke_token("aaaa1111", Some(bob.id)).unwrap();
    assert!(store.auth_generations().unwrap().credentials > before, "a revoke bumps the generation");
    assert!(store.find_token("aaaa1111").unwrap().unwrap().0.revoked_at.is_some());
    assert_eq!(kind(store.revoke_token("aaaa1111", None)), ErrorKind::NotFound, "revoked twice");
    store.touch_token("bbbb2222", 42).unwrap();
    assert_eq!(store.find_token("bbbb2222").unwrap().unwrap().0.last_used_at, Some(42));

    store.delete_user("bob").unwrap();
    assert_eq!(store.find_token("aaaa1111").unwrap(), None, "tokens go with their user");
    assert_eq!(kind(store.create_token(&token("cccc3333", bob.id, TokenScope::Read))), ErrorKind::NotFound);
}

/// Replays the grant log after `after` onto `grants`, as a permission
/// snapshot does; `None` when the log says to read everything again.
fn replay(store: &dyn Store, after: u64, grants: &mut Vec<Grant>) -> Option<u64> {
    let mut seq = after;
    for change in store.grant_changes(after, 1000).unwrap()? {
        assert!(change.seq > seq, "entries come in order");
        seq = change.seq;
        match change.event {
            GrantEvent::Put(g) => {
                grants.retain(|h| {
                    (h.user_id, &h.resource_kind, &h.resource_id) != (g.user_id, &g.resource_kind, &g.resource_id)
                });
                grants.push(g);
            }
            GrantEvent::Removed { user_id, resource_kind, resource_id } => grants
                .retain(|h| (h.user_id, &h.resource_kind, &h.resource_id) != (user_id, &resource_kind, &resource_id)),
            GrantEvent::Reset => return None,
        }
    }
    Some(seq)
}

fn sorted(mut grants: Vec<Grant>) -> Vec<Grant> {
    grants.sort_by(|a, b| {
        (a.user_id, &a.resource_kind, &a.resource_id).cmp(&(b.user_id, &b.resource_kind, &b.resource_id))
    });
    grants
}

pub fn grant_log_follows_every_grant_change(store: &dyn Store) {
    let ana = store.create_user("ana", "h", false).unwrap();
    let bob = store.create_user("bob", "h", false).unwrap();
    let start = store.all_grants().unwrap();
    assert_eq!(start.seq, store.auth_generations().unwrap().grants);
    let mut grants = start.grants.clone();
    let credentials = store.auth_generations().unwrap().credentials;

    // Every way a grant changes: creator grants, put, update, rename, delete.
    store.create_registered_model_owned("m", &[], None, Some(ana.id)).unwrap();
    let experiment = store.create_experiment_owned("e", None, &[], Some(bob.id)).unwrap();
    let g = |user_id, kind: &str, id: &str, level: &str| Grant {
        user_id,
        resource_kind: kind.into(),
        resource_id: id.into(),
        level: level.into(),
    };
    assert!(store.put_grant(&g(bob.id, "registered_model", "m", "READ"), false, false).unwrap());
    assert!(!store.put_grant(&g(bob.id, "registered_model", "m", "EDIT"), false, false).unwrap(), "insert-only");
    assert!(store.put_grant(&g(bob.id, "registered_model", "m", "EDIT"), true, true).unwrap());
    assert!(store.put_grant(&g(ana.id, "registered_model", "n", "READ"), false, false).unwrap());
    store.create_registered_model_owned("n", &[], None, None).unwrap();
    // A rename moves m's grants onto n's name (n deleted first to free it).
    store.delete_registered_model("n").unwrap();
    store.rename_registered_model("m", "n").unwrap();
    assert!(store.delete_grant(bob.id, "experiment", &experiment).unwrap(), "the creator's grant is there");
    let after = replay(store, start.seq, &mut grants).expect("no reset");
    assert_eq!(after, store.auth_generations().unwrap().grants);
    assert_eq!(sorted(grants.clone()), sorted(store.all_grants().unwrap().grants), "the log replays to the table");
    assert_eq!(
        store.auth_generations().unwrap().credentials,
        credentials,
        "grant changes leave cached credentials valid"
    );

    // Deleting a user is a reset: the reader reads every grant again.
    store.delete_user("bob").unwrap();
    assert_eq!(replay(store, after, &mut grants), None);
    assert_eq!(store.grant_changes(store.auth_generations().unwrap().grants, 10).unwrap(), Some(vec![]));
}

/// A committed write hands over the grant-log entries it appended (on its
/// thread, once); a failed one hands over nothing.
pub fn writes_hand_over_the_grant_log_entries_they_committed(store: &dyn Store) {
    use flotilla_store::auth::take_written_grants;
    let ana = store.create_user("ana", "h", false).unwrap();
    take_written_grants();
    let head = store.auth_generations().unwrap().grants;
    store.create_registered_model_owned("mine", &[], None, Some(ana.id)).unwrap();
    let written = take_written_grants();
    let grant = Grant {
        user_id: ana.id,
        resource_kind: "registered_model".into(),
        resource_id: "mine".into(),
        level: "MANAGE".into(),
    };
    assert_eq!(written, vec![GrantChange { seq: head + 1, event: GrantEvent::Put(grant) }]);
    assert_eq!(store.grant_changes(head, 10).unwrap(), Some(written), "what the log holds");
    assert_eq!(take_written_grants(), vec![], "handed over once");
    // The same name again fails: its transaction rolls back and hands nothing over.
    assert!(store.create_registered_model_owned("mine", &[], None, Some(ana.id)).is_err());
    assert_eq!(take_written_grants(), vec![]);
    assert_eq!(store.auth_generations().unwrap().grants, head + 1);
    store.delete_registered_model("mine").unwrap();
    let removed = take_written_grants();
    assert_eq!(removed.len(), 1);
    assert!(matches!(removed[0].event, GrantEvent::Removed { .. }) && removed[0].seq == head + 2, "{removed:?}");
}
