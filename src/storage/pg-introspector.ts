// PostgreSQL as Kysely sees it, but introspected in this connection's own schema only. Kysely's introspector reads
// every column of every table of every schema, looking each schema up by name as it goes (has_schema_privilege,
// pg_get_serial_sequence): another client dropping a schema meanwhile fails it with 3F000, as a test run's
// parallel files did to a migration. The migrator only asks whether its two tables exist, here.
import { PostgresDialect, PostgresIntrospector, sql, type DatabaseIntrospector, type Kysely, type TableMetadata } from 'kysely'

class OwnSchemaIntrospector extends PostgresIntrospector {
  constructor(private readonly kysely: Kysely<any>) {
    super(kysely)
  }

  /** The tables and views of current_schema(), without their columns (nothing of ScanPay's reads them). */
  override async getTables(): Promise<TableMetadata[]> {
    const { rows } = await sql<{ name: string; schema: string; kind: string }>`
      SELECT c.relname AS name, n.nspname AS schema, c.relkind AS kind
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'v', 'p')
      ORDER BY c.relname`.execute(this.kysely)
    return rows.map((r) => ({ name: r.name, schema: r.schema, isView: r.kind === 'v', columns: [] }))
  }
}

export class OwnSchemaPostgresDialect extends PostgresDialect {
  override createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new OwnSchemaIntrospector(db)
  }
}
