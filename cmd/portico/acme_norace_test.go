//go:build !race

package main

// raceBuild is true when the tests run with the race detector, so that the
// portico binary they build has it too.
const raceBuild = false
