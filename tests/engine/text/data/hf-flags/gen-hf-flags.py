# SPDX-License-Identifier: GPL-3.0-or-later
# Makes the hf-flags golden data with Hugging Face `tokenizers` (run where it is installed):
#   OUT=DIR python3 gen-hf-flags.py
# A small BPE tokenizer.json in Gemma form (Replace normalizer, byte fallback, fuse_unk) whose
# added tokens use every flag (lstrip, rstrip, single_word, normalized, special) — their JSON
# ids deliberately collide, as HF reassigns them — and 4,000 random texts mixing them with
# spaces, tabs, U+3000, NBSP, emoji, "<0x41>" typed as text.  cases.ref keeps the first 1,500
# (T text, I ids, D decode, S decode skipping specials).
import json,random,os
from tokenizers import Tokenizer
R=random.Random(7);O=os.environ['OUT']
L=list('abcdefgh')+['\u2581','1','2','\u00e9']
V={'<unk>':0,'<pad>':1,'<bos>':2}
for b in range(256):V['<0x%02X>'%b]=len(V)
for c in L:V[c]=len(V)
M=[];P=list(L)
while len(M)<3000:
 a=R.choice(P);b=R.choice(P);s=a+b
 if len(s)>6 or s in V:continue
 V[s]=len(V);P.append(s);M.append([a,b])
def A(c,sp=0,n=0,l=0,r=0,w=0):return dict(id=V.get(c,len(V)),content=c,special=bool(sp),normalized=bool(n),lstrip=bool(l),rstrip=bool(r),single_word=bool(w))
AT=[A('<unk>',1),A('<bos>',1),A('[L]',0,0,1),A('[R]',0,0,0,1),A('[W]',0,0,0,0,1),A('c d',0,1),A('[LR]',1,0,1,1),A('\n\n'),A('ab'),A('[N] x',0,1,1,1),A('<s>',1,0,0,0,1)]
T={'version':'1.0','truncation':None,'padding':None,'added_tokens':AT,
'normalizer':{'type':'Replace','pattern':{'String':' '},'content':'\u2581'},'pre_tokenizer':None,'post_processor':None,
'decoder':{'type':'Sequence','decoders':[{'type':'Replace','pattern':{'String':'\u2581'},'content':' '},{'type':'ByteFallback'},{'type':'Fuse'}]},
'model':{'type':'BPE','dropout':None,'unk_token':'<unk>','continuing_subword_prefix':None,'end_of_word_suffix':None,'fuse_unk':True,'byte_fallback':True,'ignore_merges':False,'vocab':V,'merges':M}}
json.dump(T,open(O+'/tok.json','w'))
t=Tokenizer.from_file(O+'/tok.json')
G=[x['content'] for x in AT]+[' ','  ','\t','\u3000','\u00a0','x','_','\u00e9','\U0001F600','\n','\r','a','b','c','d','ab','\u2581','<0x41>']
E=lambda s:s.replace('\\','\\\\').replace('\n','\\n').replace('\r','\\r').replace('\t','\\t')
X=[];I=[];D=[];S=[]
for i in range(4000):
 s=''.join(R.choice(G) if R.random()<.5 else R.choice(L[:8]) for _ in range(R.choice([1,2,4,8,20,60])))
 e=t.encode(s,add_special_tokens=False).ids
 X.append(E(s));I.append(' '.join(map(str,e)));D.append(E(t.decode(e,skip_special_tokens=False)));S.append(E(t.decode(e,skip_special_tokens=True)))
for n,l in [('texts',X),('ids',I),('dec',D),('decskip',S)]:open(O+'/'+n+'.txt','w').write('\n'.join(l)+'\n')
