package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The memory bound the README states (section "Limits"): peak resident
// memory at most memoryPerInputByte times the input's size, plus
// memoryConstant, under the default caps (an object costs up to about
// 1 KB of memory beyond its bytes, which the object cap bounds).
const (
	memoryPerInputByte = 50
	memoryConstant     = 256 << 20
)

// worstInputs are the densest inputs in YAML nodes per byte, and the
// inputs whose aliases expand the most, that could be built: what makes a
// small input take much memory.
func worstInputs() map[string]string {
	head := func(i int) string {
		return fmt.Sprintf("---\n# Source: c/templates/cm%d.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c%d\n", i, i)
	}
	repeat := func(n int, f func(i int) string) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(f(i))
		}
		return b.String()
	}
	// Nine-fold aliases, levels deep.
	laughs := func(levels int) string {
		s, prev := "x:\n  a: &a [l,l,l,l,l,l,l,l,l]\n", "a"
		for l := 1; l < levels; l++ {
			c := string(rune('a' + l))
			s += "  " + c + ": &" + c + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+",", 9), ",") + "]\n"
			prev = c
		}
		return s
	}
	// An alias chain: each anchor holds the previous one twice, 60 deep.
	chain := "x:\n  a0: &a0 [l]\n"
	for i := 1; i < 60; i++ {
		chain += fmt.Sprintf("  a%d: &a%d [*a%d, *a%d]\n", i, i, i-1, i-1)
	}
	keys := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "k%x,", i)
		}
		return b.String()
	}
	return map[string]string{
		"60 documents of aliases":       repeat(60, func(i int) string { return head(i) + laughs(5) }),
		"1000 documents of aliases":     repeat(1000, func(i int) string { return head(i) + laughs(5) }),
		"billion laughs":                head(0) + laughs(9),
		"alias chain":                   head(0) + chain,
		"dense flow sequence, 1 MB":     head(0) + "x: [" + strings.Repeat("a,", 500_000) + "a]\n",
		"dense flow sequence, 4 MB":     head(0) + "x: [" + strings.Repeat("a,", 2_000_000) + "a]\n",
		"empty block sequence, 1 MB":    head(0) + "x:\n" + strings.Repeat("-\n", 500_000),
		"wide flow mapping, 2 MB":       head(0) + "x: {" + keys(300_000) + "k}\n",
		"dense documents, 8 MB":         repeat(1000, func(i int) string { return head(i) + "x: [" + strings.Repeat("a,", 4000) + "a]\n" }),
		"empty flow sequences, 1 MB":    head(0) + "x: [" + strings.Repeat("[],", 330_000) + "[]]\n",
		"unclosed flow sequences, 1 MB": head(0) + "x: [" + strings.Repeat("[[],", 250_000) + "[]]\n",
		"long scalar, 16 MB":            head(0) + "x: " + strings.Repeat("y", 16<<20) + "\n",
		"100,000 small objects":         repeat(100_000, func(i int) string { return head(i) }),
		"100,000 minimal objects":       repeat(100_000, func(i int) string { return fmt.Sprintf("---\nkind: A\napiVersion: v1\nmetadata: {name: a%d}\n", i) }),
		"null values of a flow mapping": head(0) + "x: {" + strings.Repeat("? ,", 300_000) + "}\n",
	}
}

// TestMemoryBound runs the binary, as Helm does, on the worst inputs and
// checks its peak resident memory (the kernel's maximum RSS of the child)
// against the bound the README states, whether the run succeeds or is
// refused.
func TestMemoryBound(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	// The peak is measured by a helper process that starts small: a child
	// started straight from this test would report this process's peak,
	// which Linux carries over into the child it execs.
	helper := filepath.Join(dir, "dpps-maxrss")
	if err := os.Symlink(os.Args[0], helper); err != nil {
		t.Fatal(err)
	}
	for name, in := range worstInputs() {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(dir, "in.yaml")
			if err := os.WriteFile(file, []byte(in), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(helper, bin) // every transform, the default caps
			cmd.Stdin, cmd.Stdout, cmd.Stderr = f, &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v: %s", err, stderr.String())
			}
			var peak int64
			var code int
			if _, err := fmt.Sscan(stdout.String(), &peak, &code); err != nil {
				t.Fatalf("dpps-maxrss wrote %q", stdout.String())
			}
			if strings.Count(stderr.String(), "\n") > 1 {
				t.Errorf("stderr: %s", stderr.String())
			}
			bound := int64(memoryPerInputByte*len(in) + memoryConstant)
			t.Logf("%d bytes: peak %d MB, bound %d MB, exit %d %s", len(in), peak>>20, bound>>20, code, strings.TrimSpace(stderr.String()))
			if peak > bound {
				t.Errorf("peak RSS %d MB over the bound %d MB (%d × %d bytes + %d MB)", peak>>20, bound>>20, memoryPerInputByte, len(in), memoryConstant>>20)
			}
		})
	}
}

// maxRSS is the dpps-maxrss helper: it runs args with this process's stdin
// and stderr, the child's stdout discarded, and prints the child's peak
// resident memory in bytes and its exit code.
func maxRSS(args []string) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, nil, os.Stderr
	err := cmd.Run()
	if _, failed := err.(*exec.ExitError); err != nil && !failed {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	rusage := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	fmt.Printf("%d %d\n", rusage.Maxrss<<10, cmd.ProcessState.ExitCode()) // Maxrss is in KiB on Linux
	return 0
}
