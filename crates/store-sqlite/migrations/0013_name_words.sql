-- The words people are found by with typos (search::name_words), each once: lowercased handles
-- and the words of folded names, written with the accounts. Every API process holds them sorted
-- and walks them for a query's typos (app/src/name_dictionary.rs), reading only the words added
-- since it last loaded them. Words no name uses any more stay; they find nobody.
CREATE TABLE name_words (
    word TEXT PRIMARY KEY,
    added_at INTEGER NOT NULL
) STRICT;
CREATE INDEX name_words_added_idx ON name_words (added_at);
WITH RECURSIVE split(rest, word) AS (
    SELECT search_name || ' ', '' FROM users
    UNION ALL
    SELECT substr(rest, instr(rest, ' ') + 1), substr(rest, 1, instr(rest, ' ') - 1)
    FROM split WHERE rest <> ''
)
INSERT OR IGNORE INTO name_words (word, added_at)
    SELECT lower(handle), CAST(strftime('%s', 'now') AS INTEGER) * 1000000 FROM users
    UNION SELECT word, CAST(strftime('%s', 'now') AS INTEGER) * 1000000 FROM split WHERE word <> '';

-- Names by their words, for a word's beginning (`garcia*`, `"jose gar" *`), kept by triggers.
-- They replace the trigram table, whose phrases of common trigrams read tens of thousands of
-- entries for one common name word.
DROP TRIGGER users_fts_insert;
DROP TRIGGER users_fts_delete;
DROP TRIGGER users_fts_update;
DROP TABLE users_fts;
CREATE VIRTUAL TABLE users_words USING fts5(
    name, content = '', contentless_delete = 1, tokenize = 'unicode61');
INSERT INTO users_words (rowid, name) SELECT rowid, search_name FROM users;
CREATE TRIGGER users_words_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_words (rowid, name) VALUES (new.rowid, new.search_name);
END;
CREATE TRIGGER users_words_delete AFTER DELETE ON users BEGIN
    DELETE FROM users_words WHERE rowid = old.rowid;
END;
CREATE TRIGGER users_words_update AFTER UPDATE OF search_name ON users BEGIN
    DELETE FROM users_words WHERE rowid = old.rowid;
    INSERT INTO users_words (rowid, name) VALUES (new.rowid, new.search_name);
END;
