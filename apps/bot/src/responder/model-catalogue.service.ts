import { Injectable } from '@nestjs/common';
import { Cached, WarmUp } from 'nestjs-tiercache';
import { BotConfig } from '../config/bot-config.js';
import { Responder } from './responder.js';

/** One entry of the price list. */
export interface CatalogueModel {
  id: string;
  /** Price of one answered message, exact decimal. */
  price: string;
}

/**
 * The model catalogue (the bot's price list): small reference data read on every /model, /help and model change,
 * so it lives in the cache — warmed right after boot, once per deploy across instances (DEPLOY_ID).
 */
@Injectable()
export class ModelCatalogue {
  constructor(
    private readonly responder: Responder,
    private readonly config: BotConfig,
  ) {}

  /** Fills the `catalogue` namespace after bootstrap (boot waits for it at most 2 s). */
  @WarmUp({ namespace: 'catalogue', once: true, timeout: '2s' })
  async warm(): Promise<Array<[string, CatalogueModel[]]>> {
    return [['all', this.load()]];
  }

  /** Every model with its price; from the cache (warmed), or built again on a miss. */
  @Cached({ namespace: 'catalogue', key: () => 'all' })
  async list(): Promise<CatalogueModel[]> {
    return this.load();
  }

  private load(): CatalogueModel[] {
    return this.responder.models.map((id) => ({ id, price: this.config.messagePrice }));
  }
}
