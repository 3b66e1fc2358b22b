-- Recounts the report counters (migration 20) from the tables: after a
-- bulk load that ran without the report triggers. The counters follow the
-- rows through `report_champions`' own triggers.
DELETE FROM report_champions;
DELETE FROM report_family_counts;
DELETE FROM report_dataset_champions;
INSERT INTO report_champions SELECT * FROM report_champion_rows ORDER BY rm_id;
DELETE FROM report_registrations;
INSERT INTO report_registrations SELECT COALESCE(fm.family_id, 0) AS fid, rm.creation_time / 86400000 AS day, count(*)
FROM registered_models rm LEFT JOIN fleet_members fm ON fm.rm_id = rm.rm_id GROUP BY fid, day;
