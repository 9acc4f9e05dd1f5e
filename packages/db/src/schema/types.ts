/**
 * A typed description of osTicket 1.18.1's tables (what a fresh install has, including the tables PHP
 * creates at run time). `renderCreateTable` turns it into DDL; the bootstrap uses it to build an empty
 * database, and the tests hold it against a real fresh install through information_schema.
 */

/** `null` = DEFAULT NULL; number/string = that literal; `{ sql }` = an expression such as current_timestamp(). */
export type ColumnDefault = null | number | string | { sql: string };

export interface ColumnDef {
  name: string;
  /** The column type as MariaDB reports it, e.g. `int(11) unsigned`, `varchar(255)`, `enum('a','b')`. */
  type: string;
  nullable?: true;
  /** Absent = no DEFAULT clause. */
  default?: ColumnDefault;
  autoIncrement?: true;
  /** e.g. `current_timestamp()` for `ON UPDATE current_timestamp()`. */
  onUpdate?: string;
  /** Only when it differs from the table's. */
  charset?: string;
  collation?: string;
  comment?: string;
}

export interface IndexColumn {
  name: string;
  /** Prefix length, e.g. KEY (`title`(100)). */
  length?: number;
}

export interface IndexDef {
  name: string;
  kind: "primary" | "unique" | "index" | "fulltext";
  columns: (string | IndexColumn)[];
}

export interface TableDef {
  name: string;
  engine: "InnoDB" | "MyISAM";
  charset: string;
  collation: string;
  columns: ColumnDef[];
  indexes: IndexDef[];
  /**
   * `install` = created by osTicket's install SQL; `runtime` = created by osTicket's PHP (search index
   * and the `__cdata` tables), which may drop and rebuild them with other columns at any time.
   */
  origin: "install" | "runtime";
}
