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
