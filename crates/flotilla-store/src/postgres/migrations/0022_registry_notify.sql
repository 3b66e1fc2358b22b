-- Replicas: every committed change to what serving resolves (registered
-- models, their versions, aliases and fleet membership) sends one
-- notification on channel `flotilla_registry`, which each process's listener
-- (`postgres/listener.rs`) turns into a bump of its registry generation, so a
-- cached alias is dropped by every replica within milliseconds of the commit.
-- Statement-level triggers, and PostgreSQL folds identical notifications of
-- one transaction into one: a bulk write notifies once, not once per row.
-- PostgreSQL only: on SQLite the one process is its store's only writer.

CREATE FUNCTION flotilla_registry_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('flotilla_registry', '');
    RETURN NULL;
END $$;

CREATE TRIGGER registry_notify_models AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON registered_models
    FOR EACH STATEMENT EXECUTE FUNCTION flotilla_registry_changed();
CREATE TRIGGER registry_notify_versions AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON model_versions
    FOR EACH STATEMENT EXECUTE FUNCTION flotilla_registry_changed();
CREATE TRIGGER registry_notify_aliases AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON registered_model_aliases
    FOR EACH STATEMENT EXECUTE FUNCTION flotilla_registry_changed();
CREATE TRIGGER registry_notify_members AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON fleet_members
    FOR EACH STATEMENT EXECUTE FUNCTION flotilla_registry_changed();
