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

// InvalidArgument when the reply has neither blocks nor exactly one code block, or a block is
// malformed (no =======, not closed, empty SEARCH); the message names the block.
Result<ParsedEdit> parse_edit_reply(const std::string& reply);

// The child source. InvalidArgument (message for the LLM) when a block matches zero or several
// times, an edit reaches outside the EVOLVE-BLOCK or touches its markers, or nothing changes.
// Blocks apply in order, each to the result of the previous ones; all must succeed.
Result<std::string> apply_edit(const std::string& parent, const ParsedEdit& edit);

// parse_edit_reply + apply_edit.
Result<std::string> apply_edit_reply(const std::string& parent, const std::string& reply);

}  // namespace kevo
