package format

import (
	"context"
	"fmt"

	"tapefs/engine/device"
)

// memDrive is a small in-memory device.Drive for tests: records, filemarks,
// end of data, early warning and end of medium by byte count, and injected
// read/write errors. It follows the device contract for the calls this
// package makes; the rest report device.ErrUnsupported.
type memDrive struct {
	objs []memObject
	pos  int

	// earlyWarning > 0: writes that leave more than this many bytes of
	// records on tape report device.ErrEarlyWarning (after writing).
	earlyWarning int
	// capacity > 0: a record that would take the tape past this many bytes
	// is refused with device.ErrEndOfMedium.
	capacity int
	// failWrite > 0: the failWrite-th WriteRecord call fails with
	// device.ErrMediumError.
	failWrite int
	// badRead marks object indexes that read back as device.ErrMediumError.
	badRead map[int]bool

	writes  int
	key     []byte
	keySets int
}

type memObject struct {
	data     []byte
	filemark bool
}

var _ device.Drive = (*memDrive)(nil)

func (m *memDrive) used() int {
	n := 0
	for _, o := range m.objs[:m.pos] {
		n += len(o.data)
	}
	return n
}

// files returns the number of filemarks on the tape.
func (m *memDrive) files() int {
	n := 0
	for _, o := range m.objs {
		if o.filemark {
			n++
		}
	}
	return n
}

// record returns the index of the rec-th record (from 0) of tape file file.
func (m *memDrive) record(file, rec int) int {
	f, r := 0, 0
	for i, o := range m.objs {
		if o.filemark {
			f++
			r = 0
			continue
		}
		if f == file {
			if r == rec {
				return i
			}
			r++
		}
	}
	panic(fmt.Sprintf("memDrive: no record %d in file %d", rec, file))
}

func (m *memDrive) Info(ctx context.Context) (device.Info, error) {
	return device.Info{Vendor: "TAPEFS", Model: "memdrive", Serial: "0"}, ctx.Err()
}

func (m *memDrive) Status(ctx context.Context) (device.DriveStatus, error) {
	pos, _ := m.ReadPosition(ctx)
	return device.DriveStatus{
		Online: true, MediumPresent: true, Loaded: true,
		Position:         pos,
		AtBOT:            m.pos == 0,
		AtEOD:            m.pos == len(m.objs),
		PastEarlyWarning: m.earlyWarning > 0 && m.used() > m.earlyWarning,
	}, ctx.Err()
}

func (m *memDrive) Load(ctx context.Context) error   { m.pos = 0; return ctx.Err() }
func (m *memDrive) Unload(ctx context.Context) error { m.pos = 0; return ctx.Err() }
func (m *memDrive) Rewind(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.pos = 0
	return nil
}

func (m *memDrive) Space(ctx context.Context, kind device.SpaceKind, count int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch kind {
	case device.SpaceEndOfData:
		m.pos = len(m.objs)
	case device.SpaceRecords:
		for ; count > 0; count-- {
			if m.pos == len(m.objs) {
				return device.ErrEndOfData
			}
			m.pos++
			if m.objs[m.pos-1].filemark {
				return device.ErrFilemark
			}
		}
		for ; count < 0; count++ {
			if m.pos == 0 {
				return device.ErrBeginningOfMedium
			}
			m.pos--
			if m.objs[m.pos].filemark {
				return device.ErrFilemark
			}
		}
	case device.SpaceFilemarks:
		for ; count > 0; count-- {
			for {
				if m.pos == len(m.objs) {
					return device.ErrEndOfData
				}
				m.pos++
				if m.objs[m.pos-1].filemark {
					break
				}
			}
		}
		for ; count < 0; count++ {
			for {
				if m.pos == 0 {
					return device.ErrBeginningOfMedium
				}
				m.pos--
				if m.objs[m.pos].filemark {
					break
				}
			}
		}
	}
	return nil
}

func (m *memDrive) Locate(ctx context.Context, object uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if object > uint64(len(m.objs)) {
		m.pos = len(m.objs)
		return device.ErrEndOfData
	}
	m.pos = int(object)
	return nil
}

func (m *memDrive) ReadPosition(ctx context.Context) (device.Position, error) {
	var p device.Position
	p.Object = uint64(m.pos)
	for _, o := range m.objs[:m.pos] {
		if o.filemark {
			p.File++
			p.Record = 0
		} else {
			p.Record++
		}
	}
	return p, ctx.Err()
}

func (m *memDrive) ReadRecord(ctx context.Context, buf []byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if m.pos == len(m.objs) {
		return 0, fmt.Errorf("memdrive: read at object %d: %w", m.pos, device.ErrEndOfData)
	}
	o := m.objs[m.pos]
	m.pos++
	if o.filemark {
		return 0, fmt.Errorf("memdrive: read at object %d: %w", m.pos-1, device.ErrFilemark)
	}
	if m.badRead[m.pos-1] {
		return 0, fmt.Errorf("memdrive: read at object %d: %w", m.pos-1, device.ErrMediumError)
	}
	n := copy(buf, o.data)
	if n < len(o.data) {
		return n, fmt.Errorf("memdrive: %d-byte record: %w", len(o.data), device.ErrRecordTooLong)
	}
	return n, nil
}

func (m *memDrive) WriteRecord(ctx context.Context, p []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.writes++
	m.objs = m.objs[:m.pos]
	if m.failWrite == m.writes {
		return fmt.Errorf("memdrive: write record %d: %w", m.writes, device.ErrMediumError)
	}
	if m.capacity > 0 && m.used()+len(p) > m.capacity {
		return fmt.Errorf("memdrive: %w", device.ErrEndOfMedium)
	}
	m.objs = append(m.objs, memObject{data: append([]byte(nil), p...)})
	m.pos++
	return m.warn()
}

func (m *memDrive) WriteFilemarks(ctx context.Context, n int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.objs = m.objs[:m.pos]
	for range n {
		m.objs = append(m.objs, memObject{filemark: true})
		m.pos++
	}
	return m.warn()
}

func (m *memDrive) warn() error {
	if m.earlyWarning > 0 && m.used() > m.earlyWarning {
		return fmt.Errorf("memdrive: %w", device.ErrEarlyWarning)
	}
	return nil
}

func (m *memDrive) Erase(ctx context.Context, long bool) error {
	m.objs = m.objs[:m.pos]
	return ctx.Err()
}

func (m *memDrive) Format(ctx context.Context) error {
	m.objs, m.pos = nil, 0
	return ctx.Err()
}

func (m *memDrive) SetLock(ctx context.Context, locked bool) error { return ctx.Err() }

func (m *memDrive) TapeAlerts(ctx context.Context) (device.TapeAlertFlags, error) {
	return 0, ctx.Err()
}

func (m *memDrive) VolumeStatistics(context.Context) (device.VolumeStatistics, error) {
	return device.VolumeStatistics{}, device.ErrUnsupported
}

func (m *memDrive) CartridgeMemory(context.Context) ([]device.MAMAttribute, error) {
	return nil, device.ErrUnsupported
}

func (m *memDrive) SetEncryptionKey(ctx context.Context, key []byte) error {
	m.key = append([]byte(nil), key...)
	m.keySets++
	return ctx.Err()
}

func (m *memDrive) SetOptions(context.Context, device.DriveOptions) error {
	return device.ErrUnsupported
}

func (m *memDrive) Close() error { return nil }
