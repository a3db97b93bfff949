# backorder: PGXS build.
EXTENSION  = backorder
EXTVERSION = 0.1

MODULE_big = backorder
OBJS = src/backorder.o src/stock.o src/ledger.o src/events.o src/notify.o src/purchase.o src/keyscan.o

# One install-script source, split by concern under src/sql/, built per version.
SQL_PARTS  = $(sort $(wildcard src/sql/*.sql))
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
DATA       = $(wildcard upgrade/$(EXTENSION)--*--*.sql)

# pg_regress worked examples (sql/ + expected/), isolation specs (test/specs/ + test/expected/)
REGRESS      = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --load-extension=backorder
ISOLATION    = $(patsubst test/specs/%.spec,%,$(sort $(wildcard test/specs/*.spec)))
ISOLATION_OPTS = --load-extension=backorder --inputdir=test --outputdir=output_iso

PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $^ > $@

# every C file includes the shared header (PGXS tracks no header dependencies by itself)
$(OBJS): src/backorder.h
