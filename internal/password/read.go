package password

import (
	"bufio"
	"errors"
	"io"
	"strings"
)

// ReadLine reads the first line of r (a password given on stdin) without
// its line ending; an empty r is an empty line.
func ReadLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// ReadSecret reads the first line of r, which must hold a password.
func ReadSecret(r io.Reader) (string, error) {
	line, err := ReadLine(r)
	if err == nil && line == "" {
		err = errors.New("no password on stdin")
	}
	return line, err
}
