package devicetest

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"testing"

	"tapefs/engine/device"
)

// The memory library is a minimal model of the device contract, written from
// the doc comments of package device. The suite runs against it so that the
// suite's own expectations are checked against a second reading of the
// contract, independent of vtape.

type memObject struct {
	filemark bool
	data     []byte
	key      []byte // key the record was written with; nil when plain
}

type memCart struct {
	tag      string
	objects  []memObject
	capacity int64 // bytes; 0 is unlimited
	cleaning bool
	mounts   uint64
	written  uint64
	loadWrit uint64
}

func (c *memCart) used(n int) int64 {
	var u int64
	for _, o := range c.objects[:n] {
		u += int64(len(o.data))
	}
	return u
}

type memLib struct {
	drives []*memDrive
	slots  []*memCart // storage then import/export
	nStore int
	source []int // per drive: slot the cartridge came from
}

type memDrive struct {
	lib     *memLib
	n       int
	cart    *memCart
	loaded  bool
	pos     int
	atEOD   bool
	key     []byte
	locked  bool
	options struct {
		blockSize          uint32
		compression, buffr bool
	}
}

func (d *memDrive) ready(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("drive %d: %w", d.n, err)
	}
	if d.cart == nil {
		return fmt.Errorf("drive %d: %w", d.n, device.ErrNoMedium)
	}
	if !d.loaded {
		return fmt.Errorf("drive %d: %w", d.n, device.ErrNotReady)
	}
	if d.cart.cleaning {
		return fmt.Errorf("drive %d: %w", d.n, device.ErrBadCartridge)
	}
	return nil
}

func (d *memDrive) position() device.Position {
	var p device.Position
	for _, o := range d.cart.objects[:d.pos] {
		p.Object++
		if o.filemark {
			p.File++
			p.Record = 0
		} else {
			p.Record++
		}
	}
	return p
}

func (d *memDrive) Info(ctx context.Context) (device.Info, error) {
	return device.Info{Vendor: "MEM", Model: "MODEL", Serial: "SN" + strconv.Itoa(d.n)}, ctx.Err()
}

func (d *memDrive) Status(ctx context.Context) (device.DriveStatus, error) {
	if err := ctx.Err(); err != nil {
		return device.DriveStatus{}, err
	}
	st := device.DriveStatus{Online: true, MediumPresent: d.cart != nil, Loaded: d.loaded,
		Encryption: d.key != nil, Locked: d.locked, BlockSize: d.options.blockSize,
		Compression: d.options.compression, BufferMode: d.options.buffr}
	if d.loaded {
		st.Cleaning = d.cart.cleaning
		st.Position = d.position()
		st.AtBOT = d.pos == 0
		st.AtEOD = d.atEOD && d.pos == len(d.cart.objects)
		st.PastEarlyWarning = d.cart.capacity > 0 && d.cart.used(d.pos) > d.cart.capacity*3/4
	}
	return st, nil
}

func (d *memDrive) Load(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d.cart == nil {
		return device.ErrNoMedium
	}
	if !d.loaded {
		d.cart.mounts++
		d.cart.loadWrit = 0
	}
	d.loaded, d.pos, d.atEOD = true, 0, len(d.cart.objects) == 0
	return nil
}

func (d *memDrive) Unload(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d.cart == nil {
		return device.ErrNoMedium
	}
	if d.locked {
		return device.ErrMediumLocked
	}
	d.loaded, d.pos, d.key = false, 0, nil
	return nil
}

func (d *memDrive) Rewind(ctx context.Context) error {
	if err := d.ready(ctx); err != nil {
		return err
	}
	d.pos, d.atEOD = 0, false
	return nil
}

func (d *memDrive) eod() error {
	d.atEOD = true
	return device.ErrEndOfData
}

func (d *memDrive) Space(ctx context.Context, kind device.SpaceKind, count int64) error {
	if err := d.ready(ctx); err != nil {
		return err
	}
	objs := d.cart.objects
	d.atEOD = false
	switch kind {
	case device.SpaceEndOfData:
		d.pos, d.atEOD = len(objs), true
	case device.SpaceRecords:
		for ; count > 0; count-- {
			if d.pos == len(objs) {
				return d.eod()
			}
			d.pos++
			if objs[d.pos-1].filemark {
				return device.ErrFilemark
			}
		}
		for ; count < 0; count++ {
			if d.pos == 0 {
				return device.ErrBeginningOfMedium
			}
			d.pos--
			if objs[d.pos].filemark {
				return device.ErrFilemark
			}
		}
	case device.SpaceFilemarks:
		for ; count > 0; count-- {
			for {
				if d.pos == len(objs) {
					return d.eod()
				}
				d.pos++
				if objs[d.pos-1].filemark {
					break
				}
			}
		}
		for ; count < 0; count++ {
			for {
				if d.pos == 0 {
					return device.ErrBeginningOfMedium
				}
				d.pos--
				if objs[d.pos].filemark {
					break
				}
			}
		}
	}
	return nil
}

func (d *memDrive) Locate(ctx context.Context, object uint64) error {
	if err := d.ready(ctx); err != nil {
		return err
	}
	if object > uint64(len(d.cart.objects)) {
		d.pos = len(d.cart.objects)
		return d.eod()
	}
	d.pos, d.atEOD = int(object), false
	return nil
}

func (d *memDrive) ReadPosition(ctx context.Context) (device.Position, error) {
	if err := d.ready(ctx); err != nil {
		return device.Position{}, err
	}
	return d.position(), nil
}

func (d *memDrive) ReadRecord(ctx context.Context, buf []byte) (int, error) {
	if err := d.ready(ctx); err != nil {
		return 0, err
	}
	if d.pos == len(d.cart.objects) {
		return 0, d.eod()
	}
	o := d.cart.objects[d.pos]
	if o.filemark {
		d.pos++
		return 0, device.ErrFilemark
	}
	if o.key != nil && !bytes.Equal(o.key, d.key) {
		return 0, device.ErrEncrypted
	}
	d.pos++
	n := copy(buf, o.data)
	if n < len(o.data) {
		return n, device.ErrRecordTooLong
	}
	return n, nil
}

func (d *memDrive) write(ctx context.Context, o memObject) error {
	if err := d.ready(ctx); err != nil {
		return err
	}
	c := d.cart
	used := c.used(d.pos) + int64(len(o.data))
	if c.capacity > 0 && used > c.capacity {
		return device.ErrEndOfMedium
	}
	c.objects = append(c.objects[:d.pos], o)
	d.pos++
	d.atEOD = true
	c.written += uint64(len(o.data))
	c.loadWrit += uint64(len(o.data))
	if c.capacity > 0 && used > c.capacity*3/4 {
		return device.ErrEarlyWarning
	}
	return nil
}

func (d *memDrive) WriteRecord(ctx context.Context, p []byte) error {
	return d.write(ctx, memObject{data: bytes.Clone(p), key: d.key})
}

func (d *memDrive) WriteFilemarks(ctx context.Context, n int) error {
	if err := d.ready(ctx); err != nil {
		return err
	}
	var err error
	for range n {
		if err = d.write(ctx, memObject{filemark: true}); err != nil && err != device.ErrEarlyWarning {
			return err
		}
	}
	return err
}

func (d *memDrive) Erase(ctx context.Context, long bool) error {
	if err := d.ready(ctx); err != nil {
		return err
	}
	d.cart.objects, d.atEOD = d.cart.objects[:d.pos], true
	return nil
}

func (d *memDrive) Format(ctx context.Context) error {
	if err := d.ready(ctx); err != nil {
		return err
	}
	d.cart.objects, d.pos, d.atEOD = nil, 0, true
	return nil
}

func (d *memDrive) SetLock(ctx context.Context, locked bool) error {
	d.locked = locked
	return ctx.Err()
}

func (d *memDrive) TapeAlerts(ctx context.Context) (device.TapeAlertFlags, error) {
	return 0, ctx.Err()
}

func (d *memDrive) VolumeStatistics(ctx context.Context) (device.VolumeStatistics, error) {
	if err := ctx.Err(); err != nil {
		return device.VolumeStatistics{}, err
	}
	if d.cart == nil {
		return device.VolumeStatistics{}, device.ErrNoMedium
	}
	return device.VolumeStatistics{VolumeMounts: d.cart.mounts, LifetimeBytesWritten: d.cart.written,
		LastMountBytesWritten: d.cart.loadWrit, Serial: d.cart.tag}, nil
}

func (d *memDrive) CartridgeMemory(ctx context.Context) ([]device.MAMAttribute, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d.cart == nil {
		return nil, device.ErrNoMedium
	}
	return []device.MAMAttribute{
		{ID: 0x0220, Name: "total MiB written", Value: strconv.FormatUint(d.cart.written>>20, 10)},
		{ID: 0x0401, Name: "medium serial number", Value: d.cart.tag},
	}, nil
}

func (d *memDrive) SetEncryptionKey(ctx context.Context, key []byte) error {
	if err := d.ready(ctx); err != nil {
		return err
	}
	d.key = bytes.Clone(key)
	return nil
}

func (d *memDrive) SetOptions(ctx context.Context, opts device.DriveOptions) error {
	if opts.BlockSize != nil {
		d.options.blockSize = *opts.BlockSize
	}
	if opts.Compression != nil {
		d.options.compression = *opts.Compression
	}
	if opts.BufferMode != nil {
		d.options.buffr = *opts.BufferMode
	}
	return ctx.Err()
}

func (d *memDrive) Close() error { return nil }

type memChanger struct{ lib *memLib }

func (c memChanger) Info(ctx context.Context) (device.Info, error) {
	return device.Info{Vendor: "MEM", Model: "LIB", Serial: "LIB0"}, ctx.Err()
}

func (c memChanger) Status(ctx context.Context) (device.ChangerStatus, error) {
	var st device.ChangerStatus
	for i, d := range c.lib.drives {
		es := device.ElementStatus{Element: driveElement(i)}
		if d.cart != nil {
			es.Full, es.VolumeTag, es.SourceSlot = true, d.cart.tag, c.lib.source[i]
		}
		st.Drives = append(st.Drives, es)
	}
	for i, cart := range c.lib.slots {
		es := device.ElementStatus{Element: device.Element{Kind: device.ElementSlot, ID: i + 1}}
		if i >= c.lib.nStore {
			es.Kind = device.ElementImportExport
		}
		if cart != nil {
			es.Full, es.VolumeTag = true, cart.tag
		}
		if es.Kind == device.ElementSlot {
			st.Slots = append(st.Slots, es)
		} else {
			st.ImportExport = append(st.ImportExport, es)
		}
	}
	return st, ctx.Err()
}

// cell returns the cartridge pointer of element e.
func (c memChanger) cell(e device.Element) (**memCart, error) {
	switch {
	case e.Kind == device.ElementDrive && e.ID >= 0 && e.ID < len(c.lib.drives):
		return &c.lib.drives[e.ID].cart, nil
	case e.Kind == device.ElementSlot && e.ID >= 1 && e.ID <= c.lib.nStore,
		e.Kind == device.ElementImportExport && e.ID > c.lib.nStore && e.ID <= len(c.lib.slots):
		return &c.lib.slots[e.ID-1], nil
	}
	return nil, fmt.Errorf("%s: %w", elemName(e), device.ErrInvalidElement)
}

func (c memChanger) Move(ctx context.Context, from, to device.Element) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	src, err := c.cell(from)
	if err != nil {
		return err
	}
	dst, err := c.cell(to)
	if err != nil {
		return err
	}
	if *src == nil {
		return device.ErrSourceEmpty
	}
	if *dst != nil {
		return device.ErrDestinationFull
	}
	if from.Kind == device.ElementDrive {
		d := c.lib.drives[from.ID]
		if d.loaded {
			return device.ErrNotReady
		}
		if d.locked {
			return device.ErrMediumLocked
		}
	}
	*dst, *src = *src, nil
	if to.Kind == device.ElementDrive {
		c.lib.source[to.ID] = 0
		if from.Kind == device.ElementSlot {
			c.lib.source[to.ID] = from.ID
		}
	}
	return nil
}

func (c memChanger) Inventory(ctx context.Context) error { return ctx.Err() }
func (c memChanger) Close() error                        { return nil }

func newMemLib(drives, slots, ie, carts int, capacity int64) *memLib {
	lib := &memLib{nStore: slots, slots: make([]*memCart, slots+ie), source: make([]int, drives)}
	for i := range drives {
		lib.drives = append(lib.drives, &memDrive{lib: lib, n: i})
	}
	for i := range carts {
		lib.slots[i] = &memCart{tag: fmt.Sprintf("MEM%03dL8", i), capacity: capacity}
	}
	return lib
}

func TestMemoryModelDrive(t *testing.T) {
	RunDriveSuite(t, func(t *testing.T) (device.Drive, int64) {
		const capacity = 8 << 20
		lib := newMemLib(1, 1, 0, 1, capacity)
		d := lib.drives[0]
		d.cart, lib.slots[0] = lib.slots[0], nil
		if err := d.Load(t.Context()); err != nil {
			t.Fatal(err)
		}
		return d, capacity
	})
}

func TestMemoryModelChanger(t *testing.T) {
	RunChangerSuite(t, func(t *testing.T) (device.Changer, func(int) device.Drive) {
		lib := newMemLib(2, 4, 1, 2, 0) // slot 3 stays empty
		lib.slots[3] = &memCart{tag: "CLN001L1", cleaning: true}
		return memChanger{lib}, func(n int) device.Drive { return lib.drives[n] }
	})
}
