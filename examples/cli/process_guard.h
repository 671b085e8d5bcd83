// Process-wide settings the CLI makes before it touches a secret, and the
// check that its output really left the process.
#ifndef VOLCRYPT_EXAMPLES_CLI_PROCESS_GUARD_H_
#define VOLCRYPT_EXAMPLES_CLI_PROCESS_GUARD_H_

namespace volcrypt_cli {

// Makes the process non-dumpable (no core dump holds a key or passphrase;
// other users' tools cannot ptrace it or read its /proc files), and ignores
// SIGPIPE, so a closed stdout or a dropped libvirt or HTTP connection
// becomes an error with a message instead of a silent death (exit 141).
void GuardProcess();

// Flushes standard output. Returns `code`, or 1 with one line on stderr if
// the output could not be written (a closed pipe, a full disk), so a caller
// never takes a truncated answer for a whole one.
int FinishOutput(int code);

}  // namespace volcrypt_cli

#endif  // VOLCRYPT_EXAMPLES_CLI_PROCESS_GUARD_H_
