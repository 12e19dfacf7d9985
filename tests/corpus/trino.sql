-- Trino statement pages (https://trino.io/docs/current/sql.html), one or more examples per page.
-- Format of every corpus file: a line "-- @ TYPE" (or "-- @ NONE") starts an entry; its SQL runs to the next one.
-- @ DATA_DEFINITION
ALTER MATERIALIZED VIEW people RENAME TO users
-- @ DATA_DEFINITION
ALTER MATERIALIZED VIEW people SET PROPERTIES x = 'y'
-- @ DATA_DEFINITION
ALTER SCHEMA web RENAME TO traffic
-- @ DATA_DEFINITION
ALTER SCHEMA web SET AUTHORIZATION alice
-- @ DATA_DEFINITION
ALTER TABLE users RENAME TO people
-- @ DATA_DEFINITION
ALTER TABLE IF EXISTS users ADD COLUMN zip varchar COMMENT 'postal code'
-- @ DATA_DEFINITION
ALTER TABLE users DROP COLUMN zip
-- @ DATA_DEFINITION
ALTER TABLE people SET PROPERTIES x = 'y'
-- @ ALTER_TABLE_EXECUTE
ALTER TABLE hive.schema.test_table EXECUTE optimize(file_size_threshold => '10MB')
-- @ ALTER_TABLE_EXECUTE
ALTER TABLE test_table EXECUTE optimize WHERE part_key = 1
-- @ ALTER_TABLE_EXECUTE
ALTER TABLE test_table EXECUTE expire_snapshots(retention_threshold => '7d')
-- @ ALTER_TABLE_EXECUTE
ALTER TABLE test_table EXECUTE remove_orphan_files(retention_threshold => '7d')
-- @ ALTER_TABLE_EXECUTE
ALTER TABLE test_table EXECUTE drop_extended_stats
-- @ DATA_DEFINITION
ALTER VIEW people RENAME TO users
-- @ ANALYZE
ANALYZE web
-- @ ANALYZE
ANALYZE hive.default.stores WITH (partitions = ARRAY[ARRAY['1992-01-01'], ARRAY['1992-01-02']])
-- @ DATA_DEFINITION
CALL system.runtime.kill_query(query_id => '20151207_215727_00146_tx3nr', message => 'Using too many resources')
-- @ DATA_DEFINITION
COMMENT ON TABLE users IS 'master table'
-- @ DATA_DEFINITION
COMMENT ON COLUMN users.name IS 'full name'
-- @ DATA_DEFINITION
COMMIT
-- @ DATA_DEFINITION
COMMIT WORK
-- @ DATA_DEFINITION
CREATE CATALOG tpch USING tpch
-- @ DATA_DEFINITION
CREATE FUNCTION meaning_of_life() RETURNS bigint RETURN 42
-- @ DATA_DEFINITION
CREATE MATERIALIZED VIEW cancelled_orders AS SELECT orderkey, totalprice FROM orders WHERE orderstatus = 3
-- @ DATA_DEFINITION
CREATE ROLE admin
-- @ DATA_DEFINITION
CREATE SCHEMA IF NOT EXISTS traffic WITH (location = 's3://bucket/')
-- @ DATA_DEFINITION
CREATE TABLE orders (orderkey bigint, orderstatus varchar, totalprice double, orderdate date) WITH (format = 'ORC')
-- @ DATA_DEFINITION
CREATE TABLE IF NOT EXISTS orders_like (LIKE orders INCLUDING PROPERTIES, c1 bigint)
-- @ INSERT
CREATE TABLE orders_column_aliased (order_date, total_price) AS SELECT orderdate, totalprice FROM orders
-- @ INSERT
CREATE TABLE orders_by_date COMMENT 'Summary of orders by date' WITH (format = 'ORC') AS SELECT orderdate, sum(totalprice) AS price FROM orders GROUP BY orderdate
-- @ INSERT
CREATE TABLE IF NOT EXISTS orders_by_date AS SELECT orderdate, sum(totalprice) AS price FROM orders GROUP BY orderdate
-- @ INSERT
CREATE TABLE empty_nation AS SELECT * FROM nation WITH NO DATA
-- @ DATA_DEFINITION
CREATE VIEW test AS SELECT orderkey, orderstatus, totalprice / 2 AS half FROM orders
-- @ DATA_DEFINITION
CREATE OR REPLACE VIEW test AS SELECT orderkey FROM orders
-- @ DATA_DEFINITION
DEALLOCATE PREPARE my_query
-- @ DELETE
DELETE FROM lineitem WHERE shipmode = 'AIR'
-- @ DELETE
DELETE FROM lineitem WHERE orderkey IN (SELECT orderkey FROM orders WHERE priority = 'LOW')
-- @ DATA_DEFINITION
DENY SELECT ON orders TO alice
-- @ DESCRIBE
DESCRIBE orders
-- @ DESCRIBE
DESCRIBE INPUT my_select1
-- @ DESCRIBE
DESCRIBE OUTPUT my_select1
-- @ DATA_DEFINITION
DROP CATALOG example
-- @ DATA_DEFINITION
DROP FUNCTION meaning_of_life()
-- @ DATA_DEFINITION
DROP MATERIALIZED VIEW IF EXISTS orders_by_date
-- @ DATA_DEFINITION
DROP ROLE admin
-- @ DATA_DEFINITION
DROP SCHEMA web CASCADE
-- @ DATA_DEFINITION
DROP TABLE IF EXISTS orders_by_date
-- @ DATA_DEFINITION
DROP VIEW orders_by_date
-- @ DATA_DEFINITION
EXECUTE my_select1
-- @ DATA_DEFINITION
EXECUTE my_select2 USING 1, 'abc'
-- @ SELECT
EXECUTE IMMEDIATE 'SELECT name FROM nation WHERE regionkey = ? and nationkey < ?' USING 1, 3
-- @ DELETE
EXECUTE IMMEDIATE 'DELETE FROM nation WHERE name = ''x'''
-- @ EXPLAIN
EXPLAIN SELECT regionkey, count(*) FROM nation GROUP BY 1
-- @ EXPLAIN
EXPLAIN (TYPE DISTRIBUTED) SELECT regionkey, count(*) FROM nation GROUP BY 1
-- @ EXPLAIN
EXPLAIN (TYPE VALIDATE) SELECT regionkey, count(*) FROM nation GROUP BY 1
-- @ EXPLAIN
EXPLAIN (TYPE IO, FORMAT JSON) INSERT INTO test_lineitem SELECT * FROM lineitem WHERE shipdate = '2020-02-01'
-- @ SELECT
EXPLAIN ANALYZE SELECT count(*), clerk FROM orders WHERE orderdate > date '1995-01-01' GROUP BY clerk
-- @ SELECT
EXPLAIN ANALYZE VERBOSE SELECT count(clerk) OVER () FROM orders WHERE orderdate > date '1995-01-01'
-- @ INSERT
EXPLAIN ANALYZE INSERT INTO t SELECT * FROM orders
-- @ DATA_DEFINITION
GRANT INSERT, SELECT ON orders TO alice
-- @ DATA_DEFINITION
GRANT admin TO USER alice WITH ADMIN OPTION
-- @ INSERT
INSERT INTO orders SELECT * FROM new_orders
-- @ INSERT
INSERT INTO cities VALUES (1, 'San Francisco'), (2, 'San Jose')
-- @ INSERT
INSERT INTO nation (nationkey, name, regionkey, comment) VALUES (26, 'POLAND', 3, 'no comment')
-- @ SELECT
SELECT * FROM orders MATCH_RECOGNIZE (PARTITION BY custkey ORDER BY orderdate MEASURES A.totalprice AS starting_price PATTERN (A B+ C+) DEFINE B AS totalprice < PREV(totalprice), C AS totalprice > PREV(totalprice))
-- @ MERGE
MERGE INTO accounts t USING monthly_accounts_update s ON t.customer = s.customer WHEN MATCHED THEN UPDATE SET purchases = s.purchases + t.purchases WHEN NOT MATCHED THEN INSERT (customer, purchases) VALUES (s.customer, s.purchases)
-- @ MERGE
MERGE INTO accounts t USING monthly_accounts_update s ON (t.customer = s.customer) WHEN MATCHED AND s.address = 'Centreville' THEN DELETE
-- @ DATA_DEFINITION
PREPARE my_select1 FROM SELECT * FROM nation
-- @ DATA_DEFINITION
PREPARE my_insert FROM INSERT INTO cities VALUES (1, 'San Francisco')
-- @ INSERT
REFRESH MATERIALIZED VIEW cancelled_orders
-- @ DATA_DEFINITION
RESET SESSION optimize_hash_generation
-- @ DATA_DEFINITION
RESET SESSION AUTHORIZATION
-- @ DATA_DEFINITION
REVOKE INSERT, SELECT ON orders FROM alice
-- @ DATA_DEFINITION
REVOKE admin FROM USER alice
-- @ DATA_DEFINITION
ROLLBACK
-- @ SELECT
SELECT name, regionkey FROM nation WHERE regionkey IN (SELECT regionkey FROM region WHERE name = 'AMERICA') ORDER BY 1 LIMIT 5
-- @ SELECT
SELECT * FROM (VALUES 1, 2) t(x) CROSS JOIN UNNEST(ARRAY[1, 2]) AS u(y)
-- @ DATA_DEFINITION
SET PATH iceberg.system
-- @ DATA_DEFINITION
SET ROLE admin IN hive
-- @ DATA_DEFINITION
SET SESSION optimize_hash_generation = true
-- @ DATA_DEFINITION
SET SESSION AUTHORIZATION user1
-- @ DATA_DEFINITION
SET TIME ZONE 'America/Los_Angeles'
-- @ DESCRIBE
SHOW CATALOGS LIKE 't%'
-- @ DESCRIBE
SHOW COLUMNS FROM orders
-- @ DESCRIBE
SHOW CREATE FUNCTION meaning_of_life
-- @ DESCRIBE
SHOW CREATE MATERIALIZED VIEW cancelled_orders
-- @ DESCRIBE
SHOW CREATE SCHEMA web
-- @ DESCRIBE
SHOW CREATE TABLE orders
-- @ DESCRIBE
SHOW CREATE VIEW test
-- @ DESCRIBE
SHOW FUNCTIONS LIKE 'array%'
-- @ DESCRIBE
SHOW GRANTS ON TABLE orders
-- @ DESCRIBE
SHOW ROLE GRANTS
-- @ DESCRIBE
SHOW ROLES
-- @ DESCRIBE
SHOW SCHEMAS FROM tpch
-- @ DESCRIBE
SHOW SESSION LIKE 'query_max%'
-- @ DESCRIBE
SHOW STATS FOR (SELECT * FROM nation WHERE regionkey = 1)
-- @ DESCRIBE
SHOW TABLES FROM tpch.tiny LIKE 'p%'
-- @ DESCRIBE
SHOW BRANCHES FROM TABLE orders
-- @ DATA_DEFINITION
START TRANSACTION ISOLATION LEVEL REPEATABLE READ
-- @ DATA_DEFINITION
TRUNCATE TABLE orders
-- @ UPDATE
UPDATE new_hire SET manager = (SELECT e.name FROM employee e WHERE e.employee_id = new_hire.manager_id)
-- @ DATA_DEFINITION
USE hive.finance
-- @ SELECT
VALUES (1, 'a'), (2, 'b'), (3, 'c')
-- @ SELECT
TABLE nation
-- @ SELECT
WITH SESSION query_max_run_time = '2h', hive.insert_existing_partitions_behavior = 'OVERWRITE' SELECT * FROM orders
-- @ SELECT
WITH FUNCTION meaning_of_life() RETURNS bigint RETURN 42 SELECT meaning_of_life()
-- @ SELECT
WITH FUNCTION fib(n bigint) RETURNS bigint BEGIN DECLARE a, b bigint DEFAULT 1; DECLARE c bigint; IF n <= 2 THEN RETURN 1; END IF; WHILE n > 2 DO SET n = n - 1; SET c = a + b; SET a = b; SET b = c; END WHILE; RETURN c; END SELECT fib(10)
-- @ INSERT
WITH FUNCTION double_it(x bigint) RETURNS bigint RETURN x * 2 INSERT INTO t SELECT double_it(orderkey) FROM orders
-- @ SELECT
WITH SESSION query_max_run_time = '1h' WITH FUNCTION one() RETURNS bigint RETURN 1 SELECT one()
