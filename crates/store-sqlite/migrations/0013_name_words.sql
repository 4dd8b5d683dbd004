-- The words people are found by with typos (search::name_words), each once: lowercased handles
-- and the words of folded names, written with the accounts. A typo-tolerant search judges these
-- few words, then reads the accounts that have the ones within its typos. Words no name uses any
-- more stay; they find nobody.
CREATE TABLE name_words (word TEXT NOT NULL UNIQUE);
-- Their trigrams, each word padded as pg_trgm pads it (two spaces before, one after).
CREATE VIRTUAL TABLE name_words_fts USING fts5(
    word, content = '', contentless_delete = 1, tokenize = 'trigram');
CREATE TRIGGER name_words_fts_insert AFTER INSERT ON name_words BEGIN
    INSERT INTO name_words_fts (rowid, word) VALUES (new.rowid, '  ' || new.word || ' ');
END;
CREATE TRIGGER name_words_fts_delete AFTER DELETE ON name_words BEGIN
    DELETE FROM name_words_fts WHERE rowid = old.rowid;
END;
WITH RECURSIVE split(rest, word) AS (
    SELECT search_name || ' ', '' FROM users
    UNION ALL
    SELECT substr(rest, instr(rest, ' ') + 1), substr(rest, 1, instr(rest, ' ') - 1)
    FROM split WHERE rest <> ''
)
INSERT OR IGNORE INTO name_words (word)
    SELECT lower(handle) FROM users
    UNION SELECT word FROM split WHERE word <> '';
