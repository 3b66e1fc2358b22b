-- MLflow sorts registered models by a timestamp DESC and breaks ties by name
-- ASC. An index on (time, name) yields either both ascending or both
-- descending, so for newest first SQLite sorted every model sharing the first
-- page's timestamp by name: a bulk-loaded or bulk-registered fleet shares one
-- (2.3 s for `order_by=last_updated_timestamp DESC` at 10^6 models). These
-- indexes hold that mixed order, so the first page is the first rows of a walk.
CREATE INDEX registered_models_by_update_desc ON registered_models (last_update_time DESC, name);
CREATE INDEX registered_models_by_creation_desc ON registered_models (creation_time DESC, name);
