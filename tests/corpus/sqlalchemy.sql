-- SQL that SQLAlchemy 2.1.9 emits, compiled per dialect (Core and ORM constructs).
-- @ SELECT
-- sqlite
SELECT users.id, users.name, users.fullname 
FROM users 
WHERE users.id = ?
-- @ SELECT
-- sqlite
SELECT users.name, count(addresses.id) AS count_1 
FROM users JOIN addresses ON users.id = addresses.user_id GROUP BY users.name 
HAVING count(*) > ? ORDER BY users.name
 LIMIT ? OFFSET ?
-- @ SELECT
-- sqlite
SELECT users.id, users.name, users.fullname 
FROM users 
WHERE users.id IN (__[POSTCOMPILE_id_1])
-- @ SELECT
-- sqlite
SELECT users.id, users.name, users.fullname 
FROM users 
WHERE EXISTS (SELECT * 
FROM addresses 
WHERE addresses.user_id = users.id)
-- @ SELECT
-- sqlite
SELECT users.id 
FROM users 
WHERE users.id < ? UNION SELECT addresses.user_id 
FROM addresses
-- @ SELECT
-- sqlite
WITH c AS 
(SELECT users.id AS id 
FROM users)
 SELECT c.id 
FROM c
-- @ INSERT
-- sqlite
INSERT INTO users (name, fullname) VALUES (?, ?)
-- @ INSERT
-- sqlite
INSERT INTO users (name) VALUES (?), (?)
-- @ INSERT
-- sqlite
INSERT INTO addresses (user_id, email) SELECT users.id, users.name 
FROM users
-- @ UPDATE
-- sqlite
UPDATE users SET name=? WHERE users.id = ?
-- @ DELETE
-- sqlite
DELETE FROM users WHERE users.name LIKE ?
-- @ DATA_DEFINITION
-- sqlite
CREATE TABLE users (
	id INTEGER NOT NULL, 
	name VARCHAR(50), 
	fullname VARCHAR(100), 
	PRIMARY KEY (id)
)
-- @ DATA_DEFINITION
-- sqlite
CREATE TABLE addresses (
	id INTEGER NOT NULL, 
	user_id INTEGER, 
	email VARCHAR(100) NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(user_id) REFERENCES users (id)
)
-- @ DATA_DEFINITION
-- sqlite
DROP TABLE users
-- @ DATA_DEFINITION
-- sqlite
CREATE INDEX ix_users_name ON users (name)
-- @ INSERT
-- sqlite
INSERT INTO users (id, name) VALUES (?, ?) ON CONFLICT DO NOTHING
-- @ INSERT
-- sqlite
INSERT OR REPLACE INTO users (name) VALUES (?)
-- @ SELECT
-- sqlite
SELECT user_account.id, user_account.name 
FROM user_account 
WHERE user_account.name = ?
-- @ SELECT
-- sqlite
SELECT user_account.id, user_account.name 
FROM user_account
-- @ SELECT
-- sqlite
SELECT user_account.id, user_account.name, address.id AS id_1, address.user_id, address.email 
FROM user_account JOIN address ON user_account.id = address.user_id 
WHERE (address.email LIKE '%' || ? || '%')
-- @ SELECT
-- sqlite
SELECT count(*) AS count_1 
FROM user_account
-- @ UPDATE
-- sqlite
UPDATE user_account SET name=? WHERE user_account.name = ?
-- @ DELETE
-- sqlite
DELETE FROM address WHERE address.user_id IN (SELECT user_account.id 
FROM user_account 
WHERE user_account.name = ?)
-- @ SELECT
-- sqlite
SELECT user_account.id, user_account.name 
FROM user_account 
WHERE user_account.id IN (__[POSTCOMPILE_ids])
-- @ SELECT
-- postgresql
SELECT users.id, users.name, users.fullname 
FROM users 
WHERE users.id = %(id_1)s::INTEGER
-- @ SELECT
-- postgresql
SELECT users.name, count(addresses.id) AS count_1 
FROM users JOIN addresses ON users.id = addresses.user_id GROUP BY users.name 
HAVING count(*) > %(count_2)s::INTEGER ORDER BY users.name 
 LIMIT %(param_1)s::INTEGER OFFSET %(param_2)s::INTEGER
-- @ SELECT
-- postgresql
SELECT users.id, users.name, users.fullname 
FROM users 
WHERE users.id IN (__[POSTCOMPILE_id_1])
-- @ SELECT
-- postgresql
SELECT users.id, users.name, users.fullname 
FROM users 
WHERE EXISTS (SELECT * 
FROM addresses 
WHERE addresses.user_id = users.id) FOR UPDATE
-- @ SELECT
-- postgresql
SELECT users.id 
FROM users 
WHERE users.id < %(id_1)s::INTEGER UNION SELECT addresses.user_id 
FROM addresses
-- @ SELECT
-- postgresql
WITH c AS 
(SELECT users.id AS id 
FROM users)
 SELECT c.id 
FROM c
-- @ INSERT
-- postgresql
INSERT INTO users (name, fullname) VALUES (%(name)s::VARCHAR, %(fullname)s::VARCHAR) RETURNING users.id
-- @ INSERT
-- postgresql
INSERT INTO users (name) VALUES (%(name_m0)s::VARCHAR), (%(name_m1)s::VARCHAR)
-- @ INSERT
-- postgresql
INSERT INTO addresses (user_id, email) SELECT users.id, users.name 
FROM users
-- @ UPDATE
-- postgresql
UPDATE users SET name=%(name)s::VARCHAR WHERE users.id = %(id_1)s::INTEGER
-- @ DELETE
-- postgresql
DELETE FROM users WHERE users.name LIKE %(name_1)s::VARCHAR
-- @ DATA_DEFINITION
-- postgresql
CREATE TABLE users (
	id SERIAL NOT NULL, 
	name VARCHAR(50), 
	fullname VARCHAR(100), 
	PRIMARY KEY (id)
)
-- @ DATA_DEFINITION
-- postgresql
CREATE TABLE addresses (
	id SERIAL NOT NULL, 
	user_id INTEGER, 
	email VARCHAR(100) NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(user_id) REFERENCES users (id)
)
-- @ DATA_DEFINITION
-- postgresql
DROP TABLE users
-- @ DATA_DEFINITION
-- postgresql
CREATE INDEX ix_users_name ON users (name)
-- @ INSERT
-- postgresql
INSERT INTO users (id, name) VALUES (%(id)s::INTEGER, %(name)s::VARCHAR) ON CONFLICT (id) DO UPDATE SET name = %(param_1)s::VARCHAR
-- @ INSERT
-- postgresql
INSERT INTO users (name) VALUES (%(name)s::VARCHAR) RETURNING users.id
-- @ SELECT
-- postgresql
SELECT users.id, users.name, users.fullname 
FROM users 
WHERE users.id = ANY (%(ids)s::INTEGER[])
-- @ UPDATE
-- postgresql
UPDATE users SET name=addresses.email FROM addresses WHERE users.id = addresses.user_id RETURNING users.id
-- @ SELECT
-- postgresql
SELECT user_account.id, user_account.name 
FROM user_account 
WHERE user_account.name = %(name_1)s::VARCHAR
-- @ SELECT
-- postgresql
SELECT user_account.id, user_account.name 
FROM user_account
-- @ SELECT
-- postgresql
SELECT user_account.id, user_account.name, address.id AS id_1, address.user_id, address.email 
FROM user_account JOIN address ON user_account.id = address.user_id 
WHERE (address.email LIKE '%%' || %(email_1)s::VARCHAR || '%%')
-- @ SELECT
-- postgresql
SELECT count(*) AS count_1 
FROM user_account
-- @ UPDATE
-- postgresql
UPDATE user_account SET name=%(name)s::VARCHAR WHERE user_account.name = %(name_1)s::VARCHAR
-- @ DELETE
-- postgresql
DELETE FROM address WHERE address.user_id IN (SELECT user_account.id 
FROM user_account 
WHERE user_account.name = %(name_1)s::VARCHAR)
-- @ SELECT
-- postgresql
SELECT user_account.id, user_account.name 
FROM user_account 
WHERE user_account.id IN (__[POSTCOMPILE_ids])
-- @ SELECT
-- mysql
SELECT users.id, users.name, users.fullname 
FROM users 
WHERE users.id = %s
-- @ SELECT
-- mysql
SELECT users.name, count(addresses.id) AS count_1 
FROM users INNER JOIN addresses ON users.id = addresses.user_id GROUP BY users.name 
HAVING count(*) > %s ORDER BY users.name 
 LIMIT %s, %s
-- @ SELECT
-- mysql
SELECT users.id, users.name, users.fullname 
FROM users 
WHERE users.id IN (__[POSTCOMPILE_id_1])
-- @ SELECT
-- mysql
SELECT users.id, users.name, users.fullname 
FROM users 
WHERE EXISTS (SELECT * 
FROM addresses 
WHERE addresses.user_id = users.id) FOR UPDATE
-- @ SELECT
-- mysql
SELECT users.id 
FROM users 
WHERE users.id < %s UNION SELECT addresses.user_id 
FROM addresses
-- @ SELECT
-- mysql
WITH c AS 
(SELECT users.id AS id 
FROM users)
 SELECT c.id 
FROM c
-- @ INSERT
-- mysql
INSERT INTO users (name, fullname) VALUES (%s, %s)
-- @ INSERT
-- mysql
INSERT INTO users (name) VALUES (%s), (%s)
-- @ INSERT
-- mysql
INSERT INTO addresses (user_id, email) SELECT users.id, users.name 
FROM users
-- @ UPDATE
-- mysql
UPDATE users SET name=%s WHERE users.id = %s
-- @ DELETE
-- mysql
DELETE FROM users WHERE users.name LIKE %s
-- @ DATA_DEFINITION
-- mysql
CREATE TABLE users (
	id INTEGER NOT NULL AUTO_INCREMENT, 
	name VARCHAR(50), 
	fullname VARCHAR(100), 
	PRIMARY KEY (id)
)
-- @ DATA_DEFINITION
-- mysql
CREATE TABLE addresses (
	id INTEGER NOT NULL AUTO_INCREMENT, 
	user_id INTEGER, 
	email VARCHAR(100) NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(user_id) REFERENCES users (id)
)
-- @ DATA_DEFINITION
-- mysql
DROP TABLE users
-- @ DATA_DEFINITION
-- mysql
CREATE INDEX ix_users_name ON users (name)
-- @ INSERT
-- mysql
INSERT INTO users (id, name) VALUES (%s, %s) ON DUPLICATE KEY UPDATE name = %s
-- @ INSERT
-- mysql
INSERT IGNORE INTO users (name) VALUES (%s)
-- @ SELECT
-- mysql
SELECT user_account.id, user_account.name 
FROM user_account 
WHERE user_account.name = %s
-- @ SELECT
-- mysql
SELECT user_account.id, user_account.name 
FROM user_account
-- @ SELECT
-- mysql
SELECT user_account.id, user_account.name, address.id AS id_1, address.user_id, address.email 
FROM user_account INNER JOIN address ON user_account.id = address.user_id 
WHERE (address.email LIKE concat('%%', %s, '%%'))
-- @ SELECT
-- mysql
SELECT count(*) AS count_1 
FROM user_account
-- @ UPDATE
-- mysql
UPDATE user_account SET name=%s WHERE user_account.name = %s
-- @ DELETE
-- mysql
DELETE FROM address WHERE address.user_id IN (SELECT user_account.id 
FROM user_account 
WHERE user_account.name = %s)
-- @ SELECT
-- mysql
SELECT user_account.id, user_account.name 
FROM user_account 
WHERE user_account.id IN (__[POSTCOMPILE_ids])
-- @ DATA_DEFINITION
BEGIN
-- @ DATA_DEFINITION
SAVEPOINT sa_savepoint_1
-- @ DATA_DEFINITION
RELEASE SAVEPOINT sa_savepoint_1
-- @ DATA_DEFINITION
ROLLBACK TO SAVEPOINT sa_savepoint_1
-- @ DESCRIBE
PRAGMA main.table_info("users")
-- @ SELECT
select pg_catalog.version()
-- @ SELECT
select current_schema()
-- @ DESCRIBE
show standard_conforming_strings
-- @ SELECT
SELECT @@sql_mode
-- @ DESCRIBE
SHOW VARIABLES LIKE 'lower_case_table_names'
-- @ SELECT
SELECT DATABASE()
-- @ DATA_DEFINITION
SET NAMES utf8mb4
