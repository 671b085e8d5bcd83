// The progress line long CLI commands (keys migrate, keys rotate) redraw on
// a terminal's stderr: "  37/1000 items  48.2/s  about 0:19 left".
#ifndef VOLCRYPT_EXAMPLES_CLI_PROGRESS_LINE_H_
#define VOLCRYPT_EXAMPLES_CLI_PROGRESS_LINE_H_

namespace volcrypt_cli {

// Redraws the line for `done` of `total` `noun` after `elapsed_seconds`;
// ends it with a newline once done == total.
void PrintProgressLine(const char* noun, int done, int total, double elapsed_seconds);

}  // namespace volcrypt_cli

#endif  // VOLCRYPT_EXAMPLES_CLI_PROGRESS_LINE_H_
