// Command benchreport turns the raw log of bench/run.sh (read from standard
// input) into Markdown tables: medians with their range over repeats, the
// ratios of Portico to nginx and to the bare Go server, and, with -targets,
// whether Portico meets the targets of the load run.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	targets := flag.Bool("targets", false, "add the table of Portico's targets")
	flag.Parse()
	recs, header, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	report(os.Stdout, recs, header, *targets)
}
