//! Who is signed in, for the page shell: the session that authenticated the
//! request (`flotilla_http`'s session middleware put it in the request), kept
//! in a task-local while the page renders, so the shell can show the user and
//! a logout form without every handler passing them down.

use flotilla_app::auth::UiSession;

/// The signed-in user and the session's CSRF token for the logout form.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub username: String,
    pub csrf: String,
}

tokio::task_local! {
    static SIGNED_IN: SignedIn;
}

impl From<&UiSession> for SignedIn {
    fn from(s: &UiSession) -> Self {
        Self { username: s.caller.username.clone(), csrf: s.csrf.clone() }
    }
}

/// Runs `f` (a page's handler) with `who` signed in.
pub async fn scope<F: Future>(who: SignedIn, f: F) -> F::Output {
    SIGNED_IN.scope(who, f).await
}

/// The user signed in to the page being rendered, if a session is.
pub fn signed_in() -> Option<SignedIn> {
    SIGNED_IN.try_with(Clone::clone).ok()
}
