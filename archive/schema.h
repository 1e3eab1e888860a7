// The archive's schema and its migrations, private to the archive. The file records its schema
// version in `schema_version`; opening a file applies the migrations it lacks, each in its own
// write transaction, so an interrupted upgrade leaves a file at some whole version.
#pragma once

#include "archive/sqlite.h"

namespace kevo::archive_schema {

// The version this build writes.
int latest_version();

// 0 for a file without the version table (a fresh file).
Result<int> version(sqlite::Db& db);

// Brings the file to `target` (default: latest_version()). InvalidArgument when the file is
// newer than this build knows: an older kevo must not write a newer file.
Status migrate(sqlite::Db& db, int target = -1);

}  // namespace kevo::archive_schema
