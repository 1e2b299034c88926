import { FW_CONFIG_COMPONENT_ID } from '../../image/capability-image.js';
import { parseImagePackage, readImageFacts } from '../../image/image-package.js';
import { ImageType, imageTypeName } from '../../image/image-types.js';
import { OTHER_SLOT } from '../board-storage.js';
import type { EmulatedBoard } from '../emulated-board.js';
import type { StagingArea } from './staging-area.js';

/**
 * GET /images: the components on the device, read from its flash and running
 * set. Each OS component lists its copy in the active slot (replica_type 0) and,
 * when the backup slot holds the same component, that copy (replica_type 1):
 * the emulator's meaning of "replica", its A/B pair. Apps list their active
 * image; the installed capability image is listed as the FirmwareConfig
 * component. Components staged but not yet installed appear with no images.
 */
export interface ImageDetails {
  uid: string;
  length_in_bytes: number;
  uncompressed_length_in_bytes: number;
  replica_type: number;
}

export interface ComponentDetails {
  uid: string;
  image_type: number;
  is_update_staged: boolean;
  does_image_type_require_restart: boolean;
  name: string;
  images: ImageDetails[];
}

export interface ComponentList {
  is_ota_update_in_progress: boolean;
  has_staged_updates: boolean;
  restart_required: boolean;
  components: ComponentDetails[];
}

const REPLICA_ACTIVE = 0;
const REPLICA_BACKUP = 1;

function identityOf(bytes: Buffer): { componentId: string; imageId: string; imageType: number; name: string } | undefined {
  try {
    const facts = readImageFacts(parseImagePackage(bytes));
    if (!facts.identity) return undefined;
    return { ...facts.identity, name: facts.debug?.name || imageTypeName(facts.identity.imageType) };
  } catch {
    return undefined;
  }
}

const imageDetails = (imageId: string, length: number, replica: number): ImageDetails => ({
  uid: imageId,
  length_in_bytes: length,
  uncompressed_length_in_bytes: length,
  replica_type: replica,
});

export function listComponents(board: EmulatedBoard, staging: StagingArea): ComponentList {
  const components: ComponentDetails[] = [];
  const component = (uid: string, imageType: number, name: string, images: ImageDetails[]): ComponentDetails => ({
    uid,
    image_type: imageType,
    is_update_staged: staging.isStaged(uid),
    does_image_type_require_restart: imageType !== ImageType.Applications,
    name,
    images,
  });

  const active = board.activeSlot;
  const backup = active ? board.storage.readOsSlot(OTHER_SLOT[active]).images ?? [] : [];
  const backupById = new Map(backup.flatMap((bytes) => {
    const id = identityOf(bytes);
    return id ? [[id.componentId, { id, length: bytes.length }] as const] : [];
  }));
  for (const image of board.runningImages) {
    const name = identityOf(image.bytes)?.name ?? imageTypeName(image.imageType);
    const images = [imageDetails(image.imageId, image.bytes.length, REPLICA_ACTIVE)];
    const copy = backupById.get(image.componentId);
    if (copy) images.push(imageDetails(copy.id.imageId, copy.length, REPLICA_BACKUP));
    components.push(component(image.componentId, image.imageType, name, images));
  }

  if (board.chip.capabilityImage) {
    const bytes = Buffer.from(board.chip.capabilityImage, 'base64');
    const id = identityOf(bytes);
    components.push(component(id?.componentId ?? FW_CONFIG_COMPONENT_ID, ImageType.FirmwareConfig, id?.name ?? 'fw_config', id ? [imageDetails(id.imageId, bytes.length, REPLICA_ACTIVE)] : []));
  }

  const record = board.storage.readRecord();
  const appNames = new Map(board.apps().map((a) => [a.componentId, a.name]));
  for (const [componentId, app] of Object.entries(record?.apps ?? {})) {
    const bytes = board.storage.readAppSlot(app.slot);
    const id = bytes ? identityOf(bytes) : undefined;
    const name = appNames.get(componentId) || id?.name || componentId;
    components.push(component(componentId, ImageType.Applications, name, id && bytes ? [imageDetails(id.imageId, bytes.length, REPLICA_ACTIVE)] : []));
  }

  const listed = new Set(components.map((c) => c.uid));
  for (const staged of staging.images) {
    if (!listed.has(staged.componentId)) components.push(component(staged.componentId, staged.imageType, staged.name, []));
  }
  return {
    is_ota_update_in_progress: board.otaInProgress,
    has_staged_updates: staging.images.length > 0,
    restart_required: false,
    components,
  };
}
