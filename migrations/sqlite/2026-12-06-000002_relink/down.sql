ALTER TABLE login_flows DROP COLUMN relink_token_hash;
