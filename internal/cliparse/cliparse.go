// Package cliparse parses the command line of talkrelay's programs with
// kong, the same way for each: --version from internal/buildinfo, --help
// and --version end the program with kong's exit code, and a wrong command
// line is reported in one line plus a pointer to --help (exit code 2).
package cliparse

import (
	"fmt"
	"io"

	"github.com/alecthomas/kong"

	"github.com/talkrelay/talkrelay/internal/buildinfo"
)

// ExitUsage is the exit code of a wrong command line.
const ExitUsage = 2

// exitPanic carries kong's exit code (after --help or --version) out of
// Parse.
type exitPanic struct{ code int }

// Parse parses args (without the program name) into grammar for program
// name, with kong options opts. ok is false when the program must end now
// with code: after --help or --version (code 0), or on a wrong command
// line, which is reported on stderr (ExitUsage).
func Parse(name string, grammar any, args []string, stdout, stderr io.Writer, opts ...kong.Option) (kctx *kong.Context, code int, ok bool) {
	opts = append([]kong.Option{kong.Name(name), kong.Vars{"version": buildinfo.String(name)},
		kong.Writers(stdout, stderr), kong.Exit(func(c int) { panic(exitPanic{c}) })}, opts...)
	parser, err := kong.New(grammar, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return nil, ExitUsage, false
	}
	defer func() {
		if r := recover(); r != nil {
			e, isExit := r.(exitPanic)
			if !isExit {
				panic(r)
			}
			kctx, code, ok = nil, e.code, false
		}
	}()
	kctx, err = parser.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\nRun \"%s --help\" for usage.\n", name, err, name)
		return nil, ExitUsage, false
	}
	return kctx, 0, true
}
