"""knowledge-base term statistics for BM25 (document frequencies per assistant), kept by triggers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 06:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Statement-level triggers on chunks keep the statistics exact whatever writes the chunks (ingest, delete,
# re-index, cascades from documents/assistants, COPY): one aggregated upsert per statement. A transaction
# lock per assistant serializes concurrent writers of the same assistant's statistics (no deadlocks between
# a delete+insert re-ingest and another one), other assistants are not blocked.
TRIGGERS = """
CREATE FUNCTION kb_stats_lock(ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    a uuid;
BEGIN
    FOR a IN SELECT DISTINCT x FROM unnest(ids) AS x WHERE x IS NOT NULL ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended('kb_stats:' || a::text, 0));
    END LOOP;
END $$;

CREATE FUNCTION kb_stats_chunks_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM kb_stats_lock(array(SELECT DISTINCT assistant_id FROM new_rows));
    INSERT INTO kb_term_stats AS s (assistant_id, term, df)
    SELECT n.assistant_id, t.term, count(*)
    FROM new_rows n, unnest(tsvector_to_array(n.tsv)) AS t(term)
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (assistant_id, term) DO UPDATE SET df = s.df + EXCLUDED.df;
    INSERT INTO kb_corpus_stats AS s (assistant_id, chunks, lexemes)
    SELECT assistant_id, count(*), coalesce(sum(length(tsv)), 0) FROM new_rows GROUP BY 1 ORDER BY 1
    ON CONFLICT (assistant_id) DO UPDATE SET chunks = s.chunks + EXCLUDED.chunks,
                                             lexemes = s.lexemes + EXCLUDED.lexemes;
    RETURN NULL;
END $$;

CREATE FUNCTION kb_stats_chunks_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM kb_stats_lock(array(SELECT DISTINCT assistant_id FROM old_rows));
    UPDATE kb_term_stats s SET df = s.df - d.n
    FROM (SELECT o.assistant_id, t.term, count(*) AS n
          FROM old_rows o, unnest(tsvector_to_array(o.tsv)) AS t(term) GROUP BY 1, 2) d
    WHERE s.assistant_id = d.assistant_id AND s.term = d.term;
    DELETE FROM kb_term_stats s
    USING (SELECT DISTINCT o.assistant_id, t.term
           FROM old_rows o, unnest(tsvector_to_array(o.tsv)) AS t(term)) d
    WHERE s.assistant_id = d.assistant_id AND s.term = d.term AND s.df <= 0;
    UPDATE kb_corpus_stats s SET chunks = s.chunks - d.n, lexemes = s.lexemes - d.l
    FROM (SELECT assistant_id, count(*) AS n, coalesce(sum(length(tsv)), 0) AS l FROM old_rows GROUP BY 1) d
    WHERE s.assistant_id = d.assistant_id;
    DELETE FROM kb_corpus_stats s USING (SELECT DISTINCT assistant_id FROM old_rows) d
    WHERE s.assistant_id = d.assistant_id AND s.chunks <= 0;
    RETURN NULL;
END $$;

-- Text updates are rare (the app replaces chunks): a row trigger, only when the text really changed.
CREATE FUNCTION kb_stats_chunks_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM kb_stats_lock(ARRAY[OLD.assistant_id, NEW.assistant_id]);
    UPDATE kb_term_stats s SET df = s.df - 1
    WHERE s.assistant_id = OLD.assistant_id AND s.term = ANY(tsvector_to_array(OLD.tsv));
    DELETE FROM kb_term_stats s WHERE s.assistant_id = OLD.assistant_id AND s.df <= 0
        AND s.term = ANY(tsvector_to_array(OLD.tsv));
    UPDATE kb_corpus_stats s SET chunks = s.chunks - 1, lexemes = s.lexemes - length(OLD.tsv)
    WHERE s.assistant_id = OLD.assistant_id;
    INSERT INTO kb_term_stats AS s (assistant_id, term, df)
    SELECT NEW.assistant_id, t.term, 1 FROM unnest(tsvector_to_array(NEW.tsv)) AS t(term) ORDER BY 2
    ON CONFLICT (assistant_id, term) DO UPDATE SET df = s.df + 1;
    INSERT INTO kb_corpus_stats AS s (assistant_id, chunks, lexemes) VALUES (NEW.assistant_id, 1, length(NEW.tsv))
    ON CONFLICT (assistant_id) DO UPDATE SET chunks = s.chunks + 1, lexemes = s.lexemes + EXCLUDED.lexemes;
    DELETE FROM kb_corpus_stats s WHERE s.assistant_id = OLD.assistant_id AND s.chunks <= 0;
    RETURN NULL;
END $$;

CREATE FUNCTION kb_stats_chunks_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM kb_term_stats;
    DELETE FROM kb_corpus_stats;
    RETURN NULL;
END $$;

CREATE TRIGGER kb_stats_chunks_insert AFTER INSERT ON chunks REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kb_stats_chunks_insert();
CREATE TRIGGER kb_stats_chunks_delete AFTER DELETE ON chunks REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kb_stats_chunks_delete();
CREATE TRIGGER kb_stats_chunks_update AFTER UPDATE OF text, assistant_id ON chunks
    FOR EACH ROW WHEN (OLD.tsv IS DISTINCT FROM NEW.tsv OR OLD.assistant_id IS DISTINCT FROM NEW.assistant_id)
    EXECUTE FUNCTION kb_stats_chunks_update();
CREATE TRIGGER kb_stats_chunks_truncate AFTER TRUNCATE ON chunks
    FOR EACH STATEMENT EXECUTE FUNCTION kb_stats_chunks_truncate();
"""


def upgrade() -> None:
    op.create_table(
        'kb_term_stats',
        sa.Column('assistant_id', sa.Uuid(), nullable=False),
        sa.Column('term', sa.Text(), nullable=False),
        sa.Column('df', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['assistant_id'], ['assistants.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('assistant_id', 'term'),
    )
    op.create_table(
        'kb_corpus_stats',
        sa.Column('assistant_id', sa.Uuid(), nullable=False),
        sa.Column('chunks', sa.BigInteger(), nullable=False),
        sa.Column('lexemes', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['assistant_id'], ['assistants.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('assistant_id'),
    )
    op.execute(TRIGGERS)
    # Existing knowledge bases: statistics from the chunks already stored.
    op.execute("""
        INSERT INTO kb_term_stats (assistant_id, term, df)
        SELECT c.assistant_id, t.term, count(*) FROM chunks c, unnest(tsvector_to_array(c.tsv)) AS t(term)
        GROUP BY 1, 2
    """)
    op.execute("""
        INSERT INTO kb_corpus_stats (assistant_id, chunks, lexemes)
        SELECT assistant_id, count(*), coalesce(sum(length(tsv)), 0) FROM chunks GROUP BY 1
    """)


def downgrade() -> None:
    for trigger in ("insert", "delete", "update", "truncate"):
        op.execute(f"DROP TRIGGER IF EXISTS kb_stats_chunks_{trigger} ON chunks")
        op.execute(f"DROP FUNCTION IF EXISTS kb_stats_chunks_{trigger}()")
    op.execute("DROP FUNCTION IF EXISTS kb_stats_lock(uuid[])")
    op.drop_table('kb_corpus_stats')
    op.drop_table('kb_term_stats')
