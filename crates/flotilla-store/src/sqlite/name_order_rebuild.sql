-- Places every registered model in name order afresh, and the trigram index
-- keyed by the places (a bulk load rebuilds them once instead of placing each
-- model as it is inserted). The same as migration 23's last statements.
DELETE FROM registered_model_name_order;
DELETE FROM registered_model_names_unplaced;
INSERT INTO registered_model_names_ordered (registered_model_names_ordered) VALUES ('delete-all');
INSERT INTO registered_model_name_order (rm_id, place)
SELECT rm_id, (row_number() OVER (ORDER BY name) - 1) * 1048576 FROM registered_models;
INSERT INTO registered_model_names_ordered (rowid, name)
SELECT o.place, r.name FROM registered_model_name_order o JOIN registered_models r ON r.rm_id = o.rm_id
ORDER BY o.place;
