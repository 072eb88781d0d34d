import type { Migration } from '../migration.js';
import { initialMigration } from './0001-initial.migration.js';
import { invoicesStatsMigration } from './0002-invoices-stats.migration.js';

/** Every migration, in the order they apply. Append new ones; never edit an applied one. */
export const MIGRATIONS: readonly Migration[] = [initialMigration, invoicesStatsMigration];
