//! The time budget of the request a task is serving. The HTTP listener runs
//! each request inside [`scope`]; [`AppState::call`](crate::AppState::call)
//! reads it with [`current`] and runs the store work under it.

use std::future::Future;

use flotilla_store::Budget;

tokio::task_local! {
    static BUDGET: Budget;
}

/// Runs `work` with `budget` as its request's time budget.
pub async fn scope<F: Future>(budget: Budget, work: F) -> F::Output {
    BUDGET.scope(budget, work).await
}

/// The time budget of the request this task is serving, if it has one.
pub fn current() -> Option<Budget> {
    BUDGET.try_with(Budget::clone).ok()
}
