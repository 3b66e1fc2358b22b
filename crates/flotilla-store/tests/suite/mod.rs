//! The store behaviour suite: every backend must pass every test here.
//!
//! Each test takes a fresh store from the backend's constructor, so the same
//! tests run on SQLite today and PostgreSQL later (`behaviour_suite!(ctor)`).

pub mod auth;
pub mod baselines;
pub mod fleet;
pub mod fleet_versions;
pub mod health;
pub mod health_batches;
pub mod insights;
pub mod lineage;
pub mod monitor;
pub mod plans;
pub mod registry;
pub mod reports;
pub mod tracking;
pub mod typed;

use flotilla_core::ErrorKind;
use flotilla_store::StoreError;

/// The error kind of a failed call, for table-style assertions.
pub fn kind<T: std::fmt::Debug>(r: Result<T, StoreError>) -> ErrorKind {
    r.expect_err("expected an error").kind()
}

macro_rules! behaviour_suite {
    ($ctor:path) => {
        macro_rules! case {
            ($module:ident :: $name:ident) => {
                #[test]
                fn $name() {
                    let (_guard, store) = $ctor();
                    suite::$module::$name(&store);
                }
            };
        }
        case!(tracking::experiments_lifecycle);
        case!(tracking::experiment_search_filters_and_pages);
        case!(tracking::runs_params_metrics_tags);
        case!(tracking::param_values_cannot_change);
        case!(tracking::failed_batch_writes_nothing);
        case!(tracking::latest_metric_and_history_pages);
        case!(tracking::nan_and_infinity_round_trip);
        case!(tracking::search_runs_filters_orders_pages);
        case!(tracking::dataset_inputs);
        case!(tracking::logged_models);
        case!(tracking::deleted_runs_refuse_writes);
        case!(registry::registered_model_lifecycle);
        case!(registry::versions_aliases_stages);
        case!(registry::version_numbers_are_never_reused);
        case!(registry::search_registered_models_prompt_clause_and_paging);
        case!(registry::search_registered_models_name_patterns);
        case!(registry::search_registered_models_name_patterns_after_changes);
        case!(registry::registered_model_pages_carry_latest_versions_and_their_aliases);
        case!(registry::search_model_versions);
        case!(registry::invalid_inputs_are_client_errors);
        case!(fleet::partitions_fall_back_to_parents_and_default);
        case!(fleet::fleet_search_filters_sorts_and_pages);
        case!(fleet::fleet_facets_count_what_matches);
        case!(fleet::bounded_facets_stop_at_their_time);
        case!(fleet::bulk_changes_apply_whole_or_not_at_all);
        case!(fleet::promotion_dry_run_apply_and_rollback);
        case!(fleet::promotion_within_a_partition);
        case!(fleet::version_metrics_follow_their_run);
        case!(fleet_versions::version_search_filters_sorts_and_pages);
        case!(plans::every_filter_with_every_sort);
        case!(plans::visibility_with_every_filter_and_sort);
        case!(insights::insights_are_bounded_reads);
        case!(lineage::datasets_and_lineage_both_ways);
        case!(lineage::lineage_pages_walk_to_the_end);
        case!(health::health_rolls_up_and_alerts_fire);
        case!(baselines::baselines_and_drift_settings_round_trip);
        case!(health_batches::health_batches_match_a_recount);
        case!(monitor::windows_roll_up_prune_and_page);
        case!(monitor::predictions_are_capped_and_claimed);
        case!(monitor::report_serving_counters_match_the_windows);
        case!(reports::report_sections_read_what_the_fleet_holds);
        case!(reports::report_schedules_and_their_reports);
        case!(auth::users_lifecycle_and_last_admin);
        case!(auth::tokens_are_revocable_and_go_with_their_user);
        case!(auth::grant_log_follows_every_grant_change);
        case!(auth::writes_hand_over_the_grant_log_entries_they_committed);
    };
}
pub(crate) use behaviour_suite;
