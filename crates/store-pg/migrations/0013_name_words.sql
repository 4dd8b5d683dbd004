-- The words people are found by with typos (search::name_words), each once: lowercased handles
-- and the words of folded names, written with the accounts. Every API process holds them sorted
-- and walks them for a query's typos (app/src/name_dictionary.rs), reading only the words added
-- since it last loaded them. Words no name uses any more stay; they find nobody.
CREATE TABLE name_words (
    word text PRIMARY KEY,
    added_at timestamptz NOT NULL
);
CREATE INDEX name_words_added_idx ON name_words (added_at);
INSERT INTO name_words (word, added_at)
    SELECT lower(handle), now() FROM users
    UNION SELECT w, now() FROM users, regexp_split_to_table(search_name, ' ') AS w WHERE w <> '';

-- Typos are judged on the dictionary now, not by the handles' trigrams.
DROP INDEX users_handle_trgm_idx;
