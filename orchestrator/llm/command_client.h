// provider: command — a program as the mutator (a coding-agent CLI, a local script). Private to
// orchestrator/; use make_model_client().
//
// Each call runs `model.command` (argv, no shell) in a fresh empty temporary folder (an agent that
// writes files there cannot touch the user's project), with kevo's environment, the prompt on
// stdin and the reply taken from stdout. The call ends with:
//   - the reply, when the program exits 0 having printed something;
//   - InvalidArgument when it exits non-zero (the exit status and the end of its stderr are the
//     message) or prints nothing;
//   - Timeout past llm.timeout_s, Cancelled when the run stops: the whole process group is killed.
// Output beyond the reply size cap kills the program too. Tokens and cost are not known to kevo
// (0 in the records; `kevo status` says "price unknown"); llm.max_requests bounds such models.
#pragma once

#include <memory>
#include <string>

#include "orchestrator/llm/llm_client.h"

namespace kevo {

std::unique_ptr<LlmClient> make_command_client(const LlmModelConfig& model,
                                               const LlmClientOptions& options);

// What the program reads on stdin: with command_input "text", the system prompt, then each
// message under a "## user" / "## assistant (your previous reply)" heading when there are several;
// with "json", {"system": ..., "messages": [{"role": ..., "content": ...}, ...]}.
std::string command_stdin(const LlmModelConfig& model, const LlmRequest& request);

}  // namespace kevo
