package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeEmbeddingProgram builds and runs the README's embedding program exactly as printed.
func TestReadmeEmbeddingProgram(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Embedding the store")
	if !ok {
		t.Fatal("README has no embedding section")
	}
	_, code, ok := strings.Cut(section, "```go\n")
	if !ok {
		t.Fatal("no go block in the embedding section")
	}
	code, _, _ = strings.Cut(code, "```")
	// The program must sit inside the module to build against it; testdata is outside ./...
	pkg, err := os.MkdirTemp("testdata", "readme-embed-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(pkg)
	if err := os.WriteFile(filepath.Join(pkg, "main.go"), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "embed")
	if out, err := exec.Command("go", "build", "-o", bin, "./"+pkg).CombinedOutput(); err != nil {
		t.Fatalf("the README program does not build: %v\n%s", err, out)
	}
	run := exec.Command(bin)
	run.Dir = t.TempDir()
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("the README program failed: %v\n%s", err, out)
	}
	want := "queue 0 offset 0: {\"order\":42}\nby key: {\"order\":42}\n"
	if string(out) != want {
		t.Fatalf("output %q, want %q", out, want)
	}
}
