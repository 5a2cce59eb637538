package boundedfile

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ten")
	if err := os.WriteFile(file, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path    string
		max     int64
		wantErr string // "" for success
	}{
		{file, 10, ""},
		{file, -1, ""},
		{file, 0, ""},
		{file, 9, file + ": larger than 9 bytes"},
		{"/dev/zero", 0, "/dev/zero: not a regular file (a character device); give a file"},
		{"/dev/zero", -1, "/dev/zero: not a regular file (a character device); give a file"},
		{fifo, 0, fifo + ": not a regular file (a named pipe); give a file"},
		{dir, 0, dir + ": not a regular file (a directory); give a file"},
		{filepath.Join(dir, "missing"), 0, "no such file or directory"},
	} {
		done := make(chan struct{})
		var data []byte
		var err error
		go func() { data, err = Read(tc.path, tc.max); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Read(%s, %d) blocks", tc.path, tc.max)
		}
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("Read(%s, %d): %v", tc.path, tc.max, err)
		case tc.wantErr == "" && string(data) != "0123456789":
			t.Errorf("Read(%s, %d) = %q", tc.path, tc.max, data)
		case tc.wantErr != "" && (err == nil || !strings.HasSuffix(err.Error(), tc.wantErr)):
			t.Errorf("Read(%s, %d): error %v, want %q", tc.path, tc.max, err, tc.wantErr)
		}
	}
}
