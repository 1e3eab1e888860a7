// Turning an LLM reply into a child program: SEARCH/REPLACE blocks or a whole file.
//
//   <<<<<<< SEARCH
//   lines copied verbatim from the parent
//   =======
//   the lines that replace them
//   >>>>>>> REPLACE
//
// Blocks may sit inside ``` fences. A reply without blocks must hold exactly one fenced code
// block (```cuda, ```cpp, ```c++ or ```), the complete new file. Application is strict: a block
// that does not match the parent exactly once is an error naming the block, never skipped, and
// the error text is written to be fed back to the LLM. When the parent has
// `// EVOLVE-BLOCK-START` / `// EVOLVE-BLOCK-END` lines, nothing outside them may change.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace kevo {

enum class EditFormat { kDiff, kWholeFile };

const char* edit_format_name(EditFormat f);  // "diff", "whole_file"

struct SearchReplaceBlock {
  std::string search;   // lines joined by '\n', no trailing newline
  std::string replace;  // same; may be empty (deletes the lines)
  int reply_line = 0;   // 1-based line of the SEARCH marker in the reply
};

struct ParsedEdit {
  EditFormat format = EditFormat::kDiff;
  std::vector<SearchReplaceBlock> blocks;  // kDiff
  std::string file;                        // kWholeFile: the complete file, ending in '\n'
};

// Why a reply gave no child; the names are the outcomes recorded for LLM calls.
enum class EditError {
  kNoEdit,        // "no_edit": neither SEARCH/REPLACE blocks nor a code block (prose only)
  kBadEdit,       // "bad_edit": malformed blocks, several code blocks, not a kernel file
  kNoMatch,       // "no_match": a SEARCH part matches no lines of the program
  kAmbiguous,     // "ambiguous": a SEARCH part matches several places
  kOutsideBlock,  // "outside_block": a change outside the EVOLVE-BLOCK or to its markers
  kNoChange,      // "no_change": the edit leaves the program as it was
};
const char* edit_error_name(EditError e);
// In words, for a log line or a breaker's reason: "no SEARCH/REPLACE blocks", ...
const char* edit_error_words(EditError e);

// InvalidArgument when the reply has neither blocks nor exactly one code block, or a block is
// malformed (no =======, not closed, empty SEARCH); the message names the block. `error`, when
// given, receives the kind of failure.
Result<ParsedEdit> parse_edit_reply(const std::string& reply, EditError* error = nullptr);

// The child source. InvalidArgument (message for the LLM) when a block matches zero or several
// times, an edit reaches outside the EVOLVE-BLOCK or touches its markers, or nothing changes.
// Blocks apply in order, each to the result of the previous ones; all must succeed. A block that
// matches nothing is reported with the program's nearest lines, numbered, so the model can copy
// them. At most 8 failing blocks are described; the rest are counted. `error`: as above (the
// first failing block's kind).
Result<std::string> apply_edit(const std::string& parent, const ParsedEdit& edit,
                               EditError* error = nullptr);

// parse_edit_reply + apply_edit.
Result<std::string> apply_edit_reply(const std::string& parent, const std::string& reply,
                                     EditError* error = nullptr);

}  // namespace kevo
