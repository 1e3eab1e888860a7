// Private to the archive: the state behind RunViews, shared by run_views.cc and call_views.cc.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "archive/run_views.h"
#include "archive/sql.h"

namespace kevo {

struct RunViews::Impl {
  std::unique_ptr<ArchiveReader> reader;
  sql::Db db;  // our own read-only connection: the reader's is private to it
  std::string path;
  std::set<std::string> call_columns;  // columns of llm_calls in this file
};

namespace archive_internal {

// Names the methods (parentless programs, in id order): seeds take the names of the run's
// "seeds_added" events when there are as many as seed programs (the orchestrator adds them in
// that order), else the first word of the source's first comment ("// hash_topk: ..."), else
// "seed #ID". `origins` and `sources` (the first bytes) are parallel to `methods`.
void name_methods(std::vector<Method>& methods, const std::vector<std::string>& origins,
                  const std::vector<std::string>& sources, const std::vector<Event>& seeds_added);

}  // namespace archive_internal
}  // namespace kevo
