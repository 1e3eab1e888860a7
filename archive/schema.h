// The archive's schema and its migrations, private to the archive. The file records its schema
// version in `schema_version`; opening a file applies the migrations it lacks, each in its own
// write transaction, so an interrupted upgrade leaves a file at some whole version.
#pragma once

#include <vector>

#include "archive/sql.h"

namespace kevo::archive_schema {

// The version this build writes.
int latest_version();

// 0 for a file without the version table (a fresh file).
Result<int> version(sql::Db& db);

// Brings the file to `target` (default: latest_version()). InvalidArgument when the file is
// newer than this build knows: an older kevo must not write a newer file.
Status migrate(sql::Db& db, int target = -1);

// The migrations in PostgreSQL's words (schema_postgres.cc), one per version as for SQLite.
const std::vector<const char*>& postgres_migrations();

}  // namespace kevo::archive_schema
