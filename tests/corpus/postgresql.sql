-- PostgreSQL documentation examples (SQL Commands reference).
-- @ DATA_DEFINITION
ABORT
-- @ DATA_DEFINITION
ALTER INDEX distributors RENAME TO suppliers
-- @ DATA_DEFINITION
ALTER TABLE ONLY distributors ADD CONSTRAINT zipchk CHECK (char_length(zipcode) = 5)
-- @ ANALYZE
ANALYZE VERBOSE users (id, name)
-- @ ANALYZE
ANALYZE (VERBOSE, SKIP_LOCKED) users
-- @ DATA_DEFINITION
BEGIN ISOLATION LEVEL SERIALIZABLE
-- @ DATA_DEFINITION
CALL do_db_maintenance()
-- @ DATA_DEFINITION
CHECKPOINT
-- @ DATA_DEFINITION
CLOSE liahona
-- @ DATA_DEFINITION
CLUSTER employees USING employees_ind
-- @ DATA_DEFINITION
COMMENT ON TABLE mytable IS 'This is my table.'
-- @ INSERT
COPY country FROM '/usr1/proj/bray/sql/country_data'
-- @ INSERT
COPY country (code, name) FROM STDIN WITH (FORMAT csv, HEADER true)
-- @ SELECT
COPY country TO STDOUT (DELIMITER '|')
-- @ SELECT
COPY (SELECT * FROM country WHERE country_name LIKE 'A%') TO '/usr1/proj/bray/sql/a_list_countries.copy'
-- @ SELECT
COPY country TO PROGRAM 'gzip > /usr1/proj/bray/sql/country_data.gz'
-- @ DATA_DEFINITION
CREATE EXTENSION IF NOT EXISTS hstore
-- @ DATA_DEFINITION
CREATE FUNCTION add(integer, integer) RETURNS integer AS 'select $1 + $2;' LANGUAGE SQL IMMUTABLE RETURNS NULL ON NULL INPUT
-- @ DATA_DEFINITION
CREATE FUNCTION dup(int) RETURNS TABLE(f1 int, f2 text) AS $$ SELECT $1, CAST($1 AS text) || ' is text' $$ LANGUAGE SQL
-- @ DATA_DEFINITION
CREATE INDEX CONCURRENTLY sales_quantity_index ON sales_table (quantity)
-- @ DATA_DEFINITION
CREATE MATERIALIZED VIEW sales_summary AS SELECT seller_no, invoice_date, sum(invoice_amt)::numeric(13,2) AS sales_amt FROM invoice GROUP BY seller_no, invoice_date WITH NO DATA
-- @ DATA_DEFINITION
CREATE TABLE films (code char(5) CONSTRAINT firstkey PRIMARY KEY, title varchar(40) NOT NULL, did integer NOT NULL, date_prod date, kind varchar(10), len interval hour to minute)
-- @ DATA_DEFINITION
CREATE TABLE people (height_cm numeric, height_in numeric GENERATED ALWAYS AS (height_cm / 2.54) STORED)
-- @ DATA_DEFINITION
CREATE TEMP TABLE t (a int) ON COMMIT DROP
-- @ DATA_DEFINITION
CREATE TABLE measurement_y2016m07 PARTITION OF measurement FOR VALUES FROM ('2016-07-01') TO ('2016-08-01')
-- @ INSERT
CREATE TABLE films_recent AS SELECT * FROM films WHERE date_prod >= '2002-01-01'
-- @ INSERT
CREATE TEMP TABLE films_recent ON COMMIT DROP AS EXECUTE recentfilms('2002-01-01')
-- @ INSERT
CREATE UNLOGGED TABLE IF NOT EXISTS s."T" (a, b) WITH (fillfactor = 70) AS VALUES (1, 2)
-- @ DATA_DEFINITION
CREATE TRIGGER check_update BEFORE UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION check_account_update()
-- @ DATA_DEFINITION
CREATE VIEW comedies AS SELECT * FROM films WHERE kind = 'Comedy'
-- @ DATA_DEFINITION
DEALLOCATE ALL
-- @ SELECT
DECLARE liahona CURSOR FOR SELECT * FROM films
-- @ SELECT
DECLARE c2 BINARY INSENSITIVE NO SCROLL CURSOR WITH HOLD FOR SELECT 1
-- @ DELETE
DELETE FROM films USING producers WHERE producer_id = producers.id AND producers.name = 'foo'
-- @ DELETE
DELETE FROM tasks WHERE status = 'DONE' RETURNING *
-- @ DATA_DEFINITION
DISCARD ALL
-- @ DATA_DEFINITION
DO $$DECLARE r record; BEGIN FOR r IN SELECT table_schema, table_name FROM information_schema.tables LOOP EXECUTE 'GRANT ALL ON ' || quote_ident(r.table_schema) || '.' || quote_ident(r.table_name) || ' TO webuser'; END LOOP; END$$
-- @ DATA_DEFINITION
END
-- @ DATA_DEFINITION
EXECUTE fooplan(1, 'Hunter Valley', 't', 200.00)
-- @ EXPLAIN
EXPLAIN SELECT * FROM foo WHERE i = 4
-- @ EXPLAIN
EXPLAIN (FORMAT JSON) SELECT * FROM foo
-- @ EXPLAIN
EXPLAIN (COSTS FALSE) SELECT * FROM foo WHERE i = 4
-- @ SELECT
EXPLAIN ANALYZE SELECT * FROM tenk1 t1, tenk2 t2 WHERE t1.unique1 < 100 AND t1.unique2 = t2.unique2
-- @ UPDATE
EXPLAIN (ANALYZE, BUFFERS) UPDATE tenk1 SET hundred = hundred + 1 WHERE unique1 < 100
-- @ DELETE
EXPLAIN (ANALYZE TRUE, COSTS OFF, TIMING OFF) DELETE FROM t WHERE a = 1
-- @ EXPLAIN
EXPLAIN (ANALYZE FALSE) INSERT INTO t VALUES (1)
-- @ EXPLAIN
EXPLAIN (ANALYZE off) UPDATE t SET a = 2
-- @ INSERT
EXPLAIN (ANALYSE, VERBOSE) INSERT INTO t VALUES (1)
-- @ EXPLAIN
EXPLAIN VERBOSE DELETE FROM t
-- @ SELECT
EXPLAIN ANALYZE EXECUTE IMMEDIATE 'SELECT 1'
-- @ SELECT
FETCH FORWARD 5 FROM liahona
-- @ DATA_DEFINITION
GRANT SELECT ON mytable TO PUBLIC
-- @ INSERT
INSERT INTO distributors (did, dname) VALUES (5, 'Gizmo Transglobal'), (6, 'Associated Computing, Inc') ON CONFLICT (did) DO UPDATE SET dname = EXCLUDED.dname
-- @ INSERT
INSERT INTO distributors (did, dname) VALUES (DEFAULT, 'XYZ Widgets') RETURNING did
-- @ INSERT
WITH upd AS (UPDATE employees SET sales_count = sales_count + 1 WHERE id = 1 RETURNING *) INSERT INTO employees_log SELECT *, current_timestamp FROM upd
-- @ DATA_DEFINITION
LISTEN virtual
-- @ DATA_DEFINITION
LOCK TABLE films IN SHARE ROW EXCLUSIVE MODE
-- @ MERGE
MERGE INTO customer_account ca USING recent_transactions t ON t.customer_id = ca.customer_id WHEN MATCHED THEN UPDATE SET balance = balance + transaction_value WHEN NOT MATCHED THEN INSERT (customer_id, balance) VALUES (t.customer_id, t.transaction_value)
-- @ SELECT
MOVE FORWARD 5 IN liahona
-- @ DATA_DEFINITION
NOTIFY virtual, 'payload'
-- @ DATA_DEFINITION
PREPARE fooplan (int, text, bool, numeric) AS INSERT INTO foo VALUES($1, $2, $3, $4)
-- @ DATA_DEFINITION
PREPARE TRANSACTION 'foobar'
-- @ INSERT
REFRESH MATERIALIZED VIEW CONCURRENTLY order_summary WITH DATA
-- @ DATA_DEFINITION
REINDEX INDEX my_index
-- @ DATA_DEFINITION
RELEASE SAVEPOINT my_savepoint
-- @ DATA_DEFINITION
RESET ALL
-- @ DATA_DEFINITION
ROLLBACK TO SAVEPOINT my_savepoint
-- @ DATA_DEFINITION
SAVEPOINT my_savepoint
-- @ SELECT
SELECT f.title, f.did, d.name, f.date_prod, f.kind FROM distributors d JOIN films f USING (did)
-- @ SELECT
SELECT * FROM films FOR UPDATE SKIP LOCKED
-- @ INSERT
SELECT * INTO films_recent FROM films WHERE date_prod >= '2002-01-01'
-- @ INSERT
SELECT * INTO TEMP TABLE films_tmp FROM films
-- @ SELECT
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'test'
-- @ SELECT
SELECT setval('serial', 42)
-- @ DATA_DEFINITION
SET search_path TO my_schema, public
-- @ DATA_DEFINITION
SET LOCAL statement_timeout = '5s'
-- @ DESCRIBE
SHOW search_path
-- @ DESCRIBE
SHOW ALL
-- @ DATA_DEFINITION
START TRANSACTION READ ONLY
-- @ SELECT
TABLE films
-- @ DATA_DEFINITION
TRUNCATE bigtable, fattable RESTART IDENTITY
-- @ DATA_DEFINITION
UNLISTEN *
-- @ UPDATE
UPDATE employees SET sales_count = sales_count + 1 FROM accounts WHERE accounts.name = 'Acme Corporation' AND employees.id = accounts.sales_person
-- @ DATA_DEFINITION
VACUUM (VERBOSE, ANALYZE) onek
-- @ SELECT
VALUES (1, 'one'), (2, 'two'), (3, 'three') ORDER BY 1 DESC
-- @ SELECT
WITH RECURSIVE search_graph(id, link, data, depth) AS (SELECT g.id, g.link, g.data, 0 FROM graph g UNION ALL SELECT g.id, g.link, g.data, sg.depth + 1 FROM graph g, search_graph sg WHERE g.id = sg.link) SEARCH DEPTH FIRST BY id SET ordercol CYCLE id SET is_cycle USING path SELECT * FROM search_graph ORDER BY ordercol
-- @ SELECT
WITH moved_rows AS (DELETE FROM products WHERE "date" >= '2010-10-01' RETURNING *) SELECT * FROM moved_rows
-- @ DELETE
WITH t AS MATERIALIZED (SELECT id FROM products WHERE price < 0) DELETE FROM products WHERE id IN (SELECT id FROM t)
-- @ UPDATE
WITH t AS NOT MATERIALIZED (SELECT 1 AS x) UPDATE products SET price = price * 1.1 FROM t
