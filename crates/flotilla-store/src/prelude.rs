//! The store's area traits, for calling store methods on a concrete backend
//! (`use flotilla_store::prelude::*;`). A `dyn Store` needs no import.

pub use crate::Store;
pub use crate::alerts::AlertStore;
pub use crate::audit::AuditStore;
pub use crate::auth::AuthStore;
pub use crate::datasets::DatasetStore;
pub use crate::fleet::{BulkStore, FamilyStore, FleetSearchStore, PromotionStore, VersionSearchStore};
pub use crate::gc::GcStore;
pub use crate::health::HealthStore;
pub use crate::import::ImportStore;
pub use crate::insights::InsightStore;
pub use crate::lineage::LineageStore;
pub use crate::monitor::MonitorStore;
pub use crate::profiles::DatasetProfileStore;
pub use crate::report::{ReportScheduleStore, ReportSectionStore, ReportStore};
pub use crate::session::SessionStore;
pub use crate::{ExperimentStore, LoggedModelStore, RegistryStore, RunStore};
