// Package boundedfile reads a file named on the command line as stdin is
// read: no further than one byte past a cap, and only when it is a regular
// file, so that a FIFO cannot hang a run and /dev/zero cannot fill memory.
package boundedfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// DefaultMaxBytes is the cap on a file named by a flag, the same as the
// default cap on stdin (pipeline.DefaultMaxBytes).
const DefaultMaxBytes = 64 << 20

// Read reads the regular file at path, refusing one larger than max bytes
// (DefaultMaxBytes when max is 0, no cap when it is negative) after reading
// at most max+1 bytes. Errors start with the path.
func Read(path string, max int64) ([]byte, error) {
	if max == 0 {
		max = DefaultMaxBytes
	}
	// O_NONBLOCK: opening a FIFO for reading otherwise waits for a writer,
	// before there is anything to look at.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s); give a file", path, typeName(info.Mode()))
	}
	in := io.Reader(f)
	if max > 0 {
		in = io.LimitReader(f, max+1)
	}
	data, err := io.ReadAll(in)
	if err != nil {
		return nil, err
	}
	if max > 0 && int64(len(data)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, max)
	}
	return data, nil
}

func typeName(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}
