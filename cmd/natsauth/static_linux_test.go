package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestStaticBuild builds natsauth the way the Dockerfile does
// (CGO_ENABLED=0) and checks the result is a static executable: no
// program interpreter and no shared libraries, so it runs on a distroless
// or scratch image.
func TestStaticBuild(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "natsauth")
	// Flags like the Dockerfile's -trimpath would defeat the build cache;
	// linking is what decides static or not.
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("open the built binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("binary has a program interpreter (dynamically linked)")
		}
		if p.Type == elf.PT_DYNAMIC {
			t.Errorf("binary has a dynamic section")
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatalf("read imported libraries: %v", err)
	}
	if len(libs) > 0 {
		t.Errorf("binary needs shared libraries %v", libs)
	}
	// The binary runs and knows its commands.
	out, err := exec.Command(bin, "healthcheck", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("static natsauth healthcheck --help: %v\n%s", err, out)
	}
}
