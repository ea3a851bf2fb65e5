// Hot statements whose text never changes, only their values: built and compiled by Kysely once per dialect,
// then sent again with new values. Building and compiling cost more than SQLite took to run them.
import { CompiledQuery, type Compilable, type Kysely, type QueryResult } from 'kysely'

export class CompiledOnce {
  /** Keyed by the dialect's adapter, which a database and its transactions share. */
  readonly #texts = new WeakMap<object, string>()

  /**
   * Runs the statement `build` makes, whose parameters must be exactly `values` in order. The text is reused
   * only once a compilation has shown that to hold; otherwise every call builds, as without this class.
   */
  async execute<R>(db: Kysely<any>, values: readonly unknown[], build: () => Compilable<R>): Promise<QueryResult<R>> {
    return db.executeQuery<R>(this.compile(db, values, build))
  }

  /** The statement execute would run, to be run elsewhere (Storage.writeCompiled). */
  compile<R>(db: Kysely<any>, values: readonly unknown[], build: () => Compilable<R>): CompiledQuery<R> {
    const adapter = db.getExecutor().adapter
    const text = this.#texts.get(adapter)
    if (text !== undefined) return CompiledQuery.raw(text, [...values]) as CompiledQuery<R>
    const compiled = build().compile()
    if (compiled.parameters.length === values.length && compiled.parameters.every((p, i) => p === values[i])) {
      this.#texts.set(adapter, compiled.sql)
    }
    return compiled
  }
}
