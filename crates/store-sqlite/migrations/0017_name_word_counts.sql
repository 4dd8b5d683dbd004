-- How many names hold each word (FTS5's own counts of the names' words): each API process reads
-- them with its typo dictionary, so that a search for a common name word walks the accounts
-- most followed first instead of reading and sorting every name that has it.
CREATE VIRTUAL TABLE users_words_counts USING fts5vocab(users_words, row);
