"""Answering named queries (kg.queries) over a store: from the rows letters keep (kg.kept_tables)
and the tallies where the store has them, else by running their SPARQL. Query-time code only:
nothing here is written to a store, so changing it re-extracts nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyoxigraph as ox

from kg import kept, kept_tables
from kg.queries import GraphResult, NamedQuery, QueryError, QueryResult, SelectResult, cell, load_query, select_result
from kg.resources import data_dir

if TYPE_CHECKING:
    from kg.store import Store


def answering(store: Store, query: NamedQuery) -> NamedQuery:
    """The query to run: one that reads the tallies is replaced by its direct form (queries/direct/)
    on a store whose tallies do not count every letter yet (built before they existed)."""
    direct = data_dir("queries") / "direct" / f"{query.name}.rq"
    if query.path.parent == data_dir("queries") and direct.is_file() and not store.tallies_complete():
        return load_query(direct)
    return query


def run(store: Store, query: NamedQuery, params: dict[str, str] | None = None,
        max_rows: int | None = None) -> QueryResult:
    """Run a named query with typed parameters; a SELECT with more than `max_rows` rows raises
    TooManyRows before its rows are made into terms. A per-letter query is answered from the rows
    the letters kept (kg.kept_tables) when every letter keeps them: all of them, or those of its
    parameter's value; a query with `words-in` from the kept rows of the values that contain its
    words."""
    if kept.kept_queries().get(query.name) == query and store.tallies_complete():
        if kept_tables.whole(query, params):
            return store.kept(query.name).solutions(max_rows)
        if column := kept.by_value(query.name):
            table = store.kept_by_value(query.name, query.substitutions(params or {})[ox.Variable(column)])
            if table is not None:
                return table.solutions(max_rows)
    if (answer := words_answer(store, query, params, max_rows)) is not None:
        return kept_tables.solutions_of(*answer)
    query = answering(store, query)
    subs = query.substitutions(params or {})
    try:
        result = store.query(query.sparql, substitutions=subs)
    except SyntaxError as exc:
        raise QueryError(f"query {query.name!r} is not valid SPARQL: {exc}") from exc
    if isinstance(result, ox.QuerySolutions):
        return select_result(query, result, max_rows)
    if isinstance(result, ox.QueryBoolean):
        return bool(result)
    return GraphResult(list(result))


def words_answer(store: Store, query: NamedQuery, params: dict[str, str] | None = None,
                 max_rows: int | None = None) -> tuple[list[str], list[list[Any]]] | None:
    """The columns and encoded rows (kg.kept) of a `words-in` query, from the kept rows of the
    values that contain its words; None when the store has no index of them (the query answers)."""
    if not query.words_in or not store.tallies_complete():
        return None
    words = query.substitutions(params or {})[ox.Variable(query.parameters[0].name)]
    values = store.kept_values(query.words_in)
    if values is None:
        return None
    tables = [store.kept_by_value(query.words_in, v) for v in kept_tables.values_containing(values, words.value)]
    return kept_tables.rows_with_words(query, words, [t for t in tables if t is not None], max_rows)


def table_rows(store: Store, query: NamedQuery,
               params: dict[str, str] | None = None) -> tuple[list[str], list[list[str]]]:
    """A SELECT query's columns and rows as strings."""
    result = run(store, query, params)
    if not isinstance(result, SelectResult):
        raise QueryError(f"query {query.name!r} is not a SELECT query")
    return result.columns, [[cell(t) for t in row] for row in result.rows]
