-- DuckDB documentation (SQL statements, friendly SQL) examples.
-- @ DATA_DEFINITION
ATTACH 'file.db' AS file_db (READ_ONLY)
-- @ DATA_DEFINITION
CHECKPOINT
-- @ DATA_DEFINITION
FORCE CHECKPOINT
-- @ INSERT
COPY lineitem FROM 'lineitem.csv' (DELIMITER '|')
-- @ INSERT
COPY FROM DATABASE db1 TO db2
-- @ SELECT
COPY lineitem TO 'lineitem.parquet' (FORMAT parquet)
-- @ SELECT
COPY (SELECT 42 AS a, 'hello' AS b) TO 'query.json' (FORMAT json)
-- @ INSERT
CREATE TABLE t1 AS SELECT 42 AS i, 84 AS j
-- @ INSERT
CREATE OR REPLACE TABLE t1 AS FROM read_csv('data.csv')
-- @ INSERT
CREATE TABLE flights AS FROM 'flights.csv'
-- @ DATA_DEFINITION
CREATE TABLE t1 (i INTEGER PRIMARY KEY, j VARCHAR, k STRUCT(a INTEGER, b VARCHAR), l INTEGER[])
-- @ DATA_DEFINITION
CREATE SEQUENCE serial START 101
-- @ DATA_DEFINITION
CREATE MACRO add(a, b) AS a + b
-- @ DATA_DEFINITION
CREATE SECRET (TYPE s3, KEY_ID 'k', SECRET 's')
-- @ DESCRIBE
DESCRIBE tbl
-- @ DESCRIBE
DESCRIBE SELECT * FROM tbl
-- @ DATA_DEFINITION
DETACH file_db
-- @ SELECT
EXPORT DATABASE 'target_directory' (FORMAT parquet)
-- @ INSERT
IMPORT DATABASE 'source_directory'
-- @ SELECT
FROM tbl
-- @ SELECT
FROM tbl SELECT a, b WHERE a > 1
-- @ SELECT
FROM range(10) t(x) LIMIT 3
-- @ INSERT
INSERT INTO tbl BY NAME SELECT 42 AS k
-- @ INSERT
INSERT OR REPLACE INTO tbl VALUES (1, 84)
-- @ DATA_DEFINITION
INSTALL httpfs
-- @ DATA_DEFINITION
LOAD httpfs
-- @ DATA_DEFINITION
LOAD 'path/to/extension.duckdb_extension'
-- @ SELECT
PIVOT cities ON year USING sum(population)
-- @ SELECT
UNPIVOT monthly_sales ON jan, feb, mar INTO NAME month VALUE sales
-- @ DESCRIBE
PRAGMA database_size
-- @ DESCRIBE
PRAGMA show_tables
-- @ DESCRIBE
PRAGMA storage_info('tbl')
-- @ DATA_DEFINITION
PRAGMA enable_progress_bar
-- @ DATA_DEFINITION
PRAGMA threads = 4
-- @ DATA_DEFINITION
PRAGMA memory_limit = '1GB'
-- @ DATA_DEFINITION
RESET threads
-- @ SELECT
SELECT * EXCLUDE (city) FROM addresses
-- @ SELECT
SELECT COLUMNS('number\d+') FROM addresses
-- @ SELECT
SELECT [1, 2, 3][1] AS x, {'a': 1} AS s
-- @ DATA_DEFINITION
SET threads = 1
-- @ DATA_DEFINITION
SET memory_limit = '500MB'
-- @ DESCRIBE
SHOW TABLES
-- @ DESCRIBE
SHOW ALL TABLES
-- @ SELECT
SUMMARIZE tbl
-- @ SELECT
SUMMARIZE SELECT * FROM tbl
-- @ DATA_DEFINITION
USE memory.main
-- @ DATA_DEFINITION
VACUUM ANALYZE tbl
-- @ SELECT
WITH cte AS (FROM tbl) FROM cte
-- @ SELECT
EXPLAIN ANALYZE SELECT * FROM tbl
-- @ EXPLAIN
EXPLAIN SELECT * FROM tbl
