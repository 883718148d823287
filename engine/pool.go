package engine

import (
	"slices"

	"tapefs/catalog"
	"tapefs/engine/config"
	"tapefs/engine/policy"
)

// PoolUpdate holds the fields `pool update` may change; nil leaves a field
// alone. Delete names fields to reset to their defaults.
type PoolUpdate struct {
	Drive, Allocation, Retention, Template, Encrypt, Comment *string
	Delete                                                   []string
}

// PoolCreate adds a media pool. Its drive must exist, and so must its
// encryption key (given in full or abbreviated; stored in full).
func (e *Engine) PoolCreate(p config.Pool) error {
	tc, err := e.cfg.LoadTape()
	if err != nil {
		return err
	}
	if p.Encrypt, err = e.resolvePoolKey(p.Encrypt); err != nil {
		return err
	}
	if err := checkTemplate(p.Template); err != nil {
		return err
	}
	return e.cfg.UpdatePools(func(pc *config.PoolConfig) error {
		if _, err := pc.Pool(p.Name); err == nil {
			return classify(ErrExists, "pool %s already exists", p.Name)
		}
		pc.Pools = append(pc.Pools, p)
		return config.ValidatePoolDrives(pc, tc)
	})
}

// PoolUpdate changes a pool's settings, with the checks of PoolCreate.
func (e *Engine) PoolUpdate(name string, u PoolUpdate) error {
	tc, err := e.cfg.LoadTape()
	if err != nil {
		return err
	}
	if u.Encrypt != nil && *u.Encrypt != "" {
		full, err := e.resolvePoolKey(*u.Encrypt)
		if err != nil {
			return err
		}
		u.Encrypt = &full
	}
	if u.Template != nil {
		if err := checkTemplate(*u.Template); err != nil {
			return err
		}
	}
	return e.cfg.UpdatePools(func(pc *config.PoolConfig) error {
		p, err := pc.Pool(name)
		if err != nil {
			return err
		}
		for _, f := range u.Delete {
			switch f {
			case "drive":
				p.Drive = ""
			case "allocation":
				p.Allocation = ""
			case "retention":
				p.Retention = ""
			case "template":
				p.Template = ""
			case "encrypt":
				p.Encrypt = ""
			case "comment":
				p.Comment = ""
			default:
				return invalidf("cannot delete %q: deletable properties are drive, allocation, retention, template, encrypt, comment", f)
			}
		}
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = *v
			}
		}
		set(&p.Drive, u.Drive)
		set(&p.Allocation, u.Allocation)
		set(&p.Retention, u.Retention)
		set(&p.Template, u.Template)
		set(&p.Encrypt, u.Encrypt)
		set(&p.Comment, u.Comment)
		return config.ValidatePoolDrives(pc, tc)
	})
}

// PoolRemove deletes a pool. It refuses while the inventory has tapes
// assigned to it.
func (e *Engine) PoolRemove(name string) error {
	cat, err := e.Catalog()
	if err != nil {
		return err
	}
	media, err := cat.ListMedia(catalog.MediaFilter{Pool: name})
	if err != nil {
		return err
	}
	if len(media) > 0 {
		return refusedf("pool %s still has %d tape(s) (e.g. %s): move or destroy them first", name, len(media), media[0].LabelText)
	}
	return e.cfg.UpdatePools(func(pc *config.PoolConfig) error {
		if _, err := pc.Pool(name); err != nil {
			return err
		}
		pc.Pools = slices.DeleteFunc(pc.Pools, func(p config.Pool) bool { return p.Name == name })
		return nil
	})
}

// PoolList lists the configured pools.
func (e *Engine) PoolList() ([]config.Pool, error) {
	pc, err := e.cfg.LoadPools()
	if err != nil {
		return nil, err
	}
	return pc.Pools, nil
}

// PoolConfig returns one pool's configuration.
func (e *Engine) PoolConfig(name string) (config.Pool, error) {
	pc, err := e.cfg.LoadPools()
	if err != nil {
		return config.Pool{}, err
	}
	p, err := pc.Pool(name)
	if err != nil {
		return config.Pool{}, err
	}
	return *p, nil
}

// checkTemplate refuses a media set name template that SetName cannot
// render (a set would silently get the default name instead).
func checkTemplate(t string) error {
	if err := policy.ValidateTemplate(t); err != nil {
		return invalidf("%v", err)
	}
	return nil
}
