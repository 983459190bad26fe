package authority

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Errors returned by Home wrap them, so callers can test
// with errors.Is.
var (
	// ErrNoHome means the directory holds no natsauth home (no operator).
	ErrNoHome = errors.New("no natsauth home")
	// ErrExists means an operator, account or user of that name exists.
	ErrExists = errors.New("already exists")
	// ErrNotFound means the account, user or key does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid means the input was rejected; see ValidationError.
	ErrInvalid = errors.New("invalid input")
	// ErrStale means an offered JWT is not newer than the home's copy.
	ErrStale = errors.New("not newer than the home's copy")
)

// ValidationError lists every problem found with the input of one
// operation. It matches ErrInvalid, and also ErrExists or ErrNotFound when
// one of the problems is a duplicate or a missing account or user.
type ValidationError struct {
	Op       string   // the operation, e.g. "add user alice"
	Problems []string // one message per problem
	kinds    []error
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return e.Op + ": " + e.Problems[0]
	}
	return e.Op + ": " + fmt.Sprintf("%d problems:\n  - ", len(e.Problems)) + strings.Join(e.Problems, "\n  - ")
}

// Unwrap makes errors.Is match ErrInvalid and the kinds of problems found.
func (e *ValidationError) Unwrap() []error {
	return append([]error{ErrInvalid}, e.kinds...)
}

// problems collects validation failures for one operation.
type problems struct {
	op    string
	list  []string
	kinds []error
}

func newProblems(format string, args ...any) *problems {
	return &problems{op: fmt.Sprintf(format, args...)}
}

// add records one problem.
func (p *problems) add(format string, args ...any) {
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

// addKind records one problem of a sentinel kind (ErrExists, ErrNotFound).
func (p *problems) addKind(kind error, format string, args ...any) {
	p.add(format, args...)
	for _, k := range p.kinds {
		if k == kind {
			return
		}
	}
	p.kinds = append(p.kinds, kind)
}

// addErr records err as a problem, keeping its sentinel kind.
func (p *problems) addErr(err error) {
	if err == nil {
		return
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		p.list = append(p.list, ve.Problems...)
		for _, k := range ve.kinds {
			p.addKindOnly(k)
		}
		return
	}
	switch {
	case errors.Is(err, ErrNotFound):
		p.addKind(ErrNotFound, "%v", err)
	case errors.Is(err, ErrExists):
		p.addKind(ErrExists, "%v", err)
	default:
		p.add("%v", err)
	}
}

func (p *problems) addKindOnly(kind error) {
	for _, k := range p.kinds {
		if k == kind {
			return
		}
	}
	p.kinds = append(p.kinds, kind)
}

// err returns the collected problems as a *ValidationError, or nil.
func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &ValidationError{Op: p.op, Problems: p.list, kinds: p.kinds}
}

// Problems collects every problem with the input of one operation, so that
// one run reports them all. Front doors use it for their own input (flags,
// form fields) and add the authority's errors to it: a *ValidationError is
// unpacked into its problems, keeping its kinds (ErrExists, ErrNotFound).
type Problems struct{ p problems }

// NewProblems starts a collection for the operation named by format.
func NewProblems(format string, args ...any) *Problems {
	return &Problems{p: problems{op: fmt.Sprintf(format, args...)}}
}

// Add records one problem.
func (p *Problems) Add(format string, args ...any) { p.p.add(format, args...) }

// AddErr records err (nil is ignored).
func (p *Problems) AddErr(err error) { p.p.addErr(err) }

// SetOp renames the operation, e.g. once its object is known.
func (p *Problems) SetOp(format string, args ...any) { p.p.op = fmt.Sprintf(format, args...) }

// Len is the number of problems recorded.
func (p *Problems) Len() int { return len(p.p.list) }

// Err returns the problems as a *ValidationError, or nil when there are none.
func (p *Problems) Err() error { return p.p.err() }
