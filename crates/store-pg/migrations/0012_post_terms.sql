-- Caption words as (term, post) keys, newest post last within each term: the newest matches of
-- any words are read from the keys backwards and merged, without visiting the posts (a GIN index
-- yields every match in page order and each must be fetched to find the newest). The terms are
-- the lexemes of `search_vector` (English stems), kept by a trigger whatever writes the caption.
CREATE TABLE post_terms (
    term text NOT NULL,
    post_id uuid NOT NULL,
    PRIMARY KEY (term, post_id)
);

CREATE FUNCTION post_terms_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.search_vector = OLD.search_vector THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM post_terms
        WHERE term = ANY (tsvector_to_array(OLD.search_vector)) AND post_id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO post_terms (term, post_id)
        SELECT lexeme, NEW.id FROM unnest(tsvector_to_array(NEW.search_vector)) AS lexeme;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER post_terms_sync AFTER INSERT OR UPDATE OF search_text OR DELETE ON posts
    FOR EACH ROW EXECUTE FUNCTION post_terms_sync();

INSERT INTO post_terms (term, post_id)
SELECT DISTINCT lexeme, id FROM posts, unnest(tsvector_to_array(search_vector)) AS lexeme;

-- Ranking reads `search_vector` of the few posts found; nothing searches it through an index.
DROP INDEX posts_search_idx;
