-- The words people are found by with typos (search::name_words), each once: lowercased handles
-- and the words of folded names, written with the accounts. A typo-tolerant search judges these
-- few words, then reads the accounts that have the ones within its typos. Words no name uses any
-- more stay; they find nobody.
CREATE TABLE name_words (word text PRIMARY KEY);
INSERT INTO name_words (word)
    SELECT lower(handle) FROM users
    UNION SELECT w FROM users, regexp_split_to_table(search_name, ' ') AS w WHERE w <> '';
CREATE INDEX name_words_trgm_idx ON name_words USING gin (word gin_trgm_ops);
