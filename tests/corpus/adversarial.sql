-- Adversarial lexical cases: keywords hidden in comments, strings, dollar bodies and quoted names; hints; tails.
-- @ NONE

-- @ NONE
   
-- @ NONE
-- just a comment
-- @ NONE
/* block */ -- and line
-- @ NONE
;
-- @ NONE
/* unterminated /* nested
-- @ SELECT
/* DELETE FROM t */ SELECT 1
-- @ SELECT
-- INSERT INTO t
SELECT 1
-- @ DELETE
/* outer /* nested SELECT */ still comment */ DELETE FROM t
-- @ SELECT
SELECT 'DELETE FROM t; DROP TABLE x' AS s
-- @ SELECT
select 1;
-- @ SELECT
SELECT 1; DELETE FROM t
-- @ SELECT
;; SELECT 1
-- @ UPDATE
/*+ INDEX(t idx) */ UPDATE t SET a = 1
-- @ SELECT
SELECT /*+ SET_VAR(sort_buffer_size = 16M) */ name FROM people ORDER BY name
-- @ SELECT
SELECT * FROM users /*traceparent='00-5bd66ef5095369c7b0d1f8f4bd33716a-c532cb4098ac3dd2-01',controller='index',framework='django'*/
-- @ INSERT
INSERT INTO t VALUES (1) /*application='Rails',controller='x',action='SELECT'*/
-- @ SELECT
sElEcT 1
-- @ SELECT
  	
  SELECT 1  
  
-- @ DATA_DEFINITION
DO $$ BEGIN INSERT INTO t VALUES (1); END $$
-- @ DATA_DEFINITION
CREATE FUNCTION f() RETURNS trigger AS $body$ BEGIN INSERT INTO log SELECT 1; RETURN NEW; END $body$ LANGUAGE plpgsql
-- @ SELECT
SELECT $tag$ INTO x $tag$ FROM t
-- @ SELECT
SELECT "into" FROM t
-- @ SELECT
SELECT `into`, [into] FROM t
-- @ SELECT
SELECT E'it\'s INTO x' FROM t
-- @ SELECT
SELECT 'it''s INTO x' FROM t
-- @ SELECT
SELECT a FROM t WHERE b = 'x' -- INTO y
-- @ SELECT
WITH "insert" AS (SELECT 1) SELECT * FROM "insert"
-- @ INSERT
WITH a AS (SELECT ')' AS p), b AS (SELECT '(' AS q) INSERT INTO t SELECT * FROM a, b
-- @ SELECT
WITH a AS (SELECT $$ ) INSERT $$ AS x) SELECT * FROM a
-- @ DELETE
WITH a AS (SELECT 1 /* ) UPDATE */), b AS (SELECT 2 -- ) INSERT
) DELETE FROM t
-- @ SELECT
WITH a AS (SELECT 1) (SELECT * FROM a) UNION (SELECT 2)
-- @ SELECT
((SELECT 1))
-- @ SELECT
(VALUES (1), (2))
-- @ DATA_DEFINITION
"SELECT"
-- @ DATA_DEFINITION
'SELECT 1'
-- @ DATA_DEFINITION
$$SELECT 1$$
-- @ DATA_DEFINITION
? SELECT
-- @ DATA_DEFINITION
frobnicate the database
-- @ DATA_DEFINITION
/*!40101 SET character_set_client = utf8 */
-- @ INSERT
/*!INSERT INTO t VALUES (1) */
-- @ SELECT
/*!50001 SELECT 1 */ -- mysql executable comment
-- @ INSERT
CREATE TABLE t AS /* comment */ SELECT 'AS' FROM u
-- @ DATA_DEFINITION
CREATE TABLE t (a text DEFAULT 'AS SELECT', b int CHECK (b > 0))
-- @ DATA_DEFINITION
CREATE TABLE "as" (select_col int)
-- @ INSERT
EXECUTE IMMEDIATE 'INSERT INTO t SELECT ''DELETE''' 
-- @ SELECT
EXECUTE IMMEDIATE $$SELECT 1$$
-- @ SELECT
EXPLAIN ANALYZE EXPLAIN ANALYZE SELECT 1
-- @ EXPLAIN
EXPLAIN /* ANALYZE */ DELETE FROM t
-- @ DELETE
EXPLAIN (ANALYZE /* yes */ , BUFFERS ON) DELETE FROM t
-- @ EXPLAIN
EXPLAIN (FORMAT 'ANALYZE') DELETE FROM t
-- @ INSERT
SELECT * INTO "New Table" FROM t
-- @ SELECT
SELECT 1 AS "INTO", 'INTO t' FROM t
-- @ SELECT
SELECT naïve_column FROM t
-- @ DELETE
DELETE FROM "ÉTÉ" WHERE x = 'é'
-- @ DATA_DEFINITION
ALTER TABLE "t" RENAME COLUMN "execute" TO x
-- @ ALTER_TABLE_EXECUTE
ALTER TABLE IF EXISTS "cat"."sch"."t" EXECUTE optimize
-- @ DATA_DEFINITION
ALTER TABLE t ADD COLUMN "EXECUTE" int
